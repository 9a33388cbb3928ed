"""Datasets registered into ppgan's DATASETS."""
from .saltpepper_dataset import SaltPepperDataset  # noqa: F401
