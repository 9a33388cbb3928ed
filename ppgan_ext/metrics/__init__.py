"""Metrics registered into ppgan's METRICS."""
from .style_loss_metric import StyleTransferLoss  # noqa: F401
