"""Criteria registered into ppgan's CRITERIONS."""
from .style_transfer_losses import (  # noqa: F401
    MeanStdStyleLoss, NormalizedContentLoss, RelaxedEMDStyleLoss, SelfSimilarityContentLoss)
