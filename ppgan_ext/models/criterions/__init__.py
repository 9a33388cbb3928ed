"""Losses registered into ppgan's CRITERIONS."""
from .local_vgg_perceptual_loss import LocalVGGPerceptualLoss  # noqa: F401
from .style_transfer_losses import (  # noqa: F401
    MeanStdStyleLoss, NormalizedContentLoss, RelaxedEMDStyleLoss, SelfSimilarityContentLoss)
