"""Losses registered into ppgan's CRITERIONS."""
from .l1_ssim_loss import L1SSIMLoss  # noqa: F401
from .local_vgg_perceptual_loss import LocalVGGPerceptualLoss  # noqa: F401
from .style_transfer_losses import (  # noqa: F401
    MeanStdStyleLoss, NormalizedContentLoss, RelaxedEMDStyleLoss, SelfSimilarityContentLoss)
