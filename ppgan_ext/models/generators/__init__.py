"""Generators registered into ppgan's GENERATORS."""
from .transpose_srresnet import TransposeSRResNet  # noqa: F401
