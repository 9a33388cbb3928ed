"""Datasets registered into ppgan's DATASETS."""
