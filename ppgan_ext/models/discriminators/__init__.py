"""Discriminators registered into ppgan's DISCRIMINATORS."""
from .lapstyle_patch import LapStylePatchDiscriminator  # noqa: F401
