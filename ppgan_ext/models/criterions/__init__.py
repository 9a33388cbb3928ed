"""Losses registered into ppgan's CRITERIONS."""
from .local_vgg_perceptual_loss import LocalVGGPerceptualLoss  # noqa: F401
