"""Discriminators registered into ppgan's DISCRIMINATORS."""
from .patch_discriminator import PatchDiscriminator  # noqa: F401
