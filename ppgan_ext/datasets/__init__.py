"""Datasets registered into ppgan's DATASETS."""
from .saltpepper_dataset import SaltPepperDataset  # noqa: F401
from .lapstyle_dataset import LapStyleContentStyleDataset  # noqa: F401
from .stylization_pairs_dataset import StylizedSRDataset  # noqa: F401
