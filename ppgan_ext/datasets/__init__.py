"""Datasets registered into ppgan's DATASETS."""
from .lapstyle_dataset import LapStyleContentStyleDataset  # noqa: F401
