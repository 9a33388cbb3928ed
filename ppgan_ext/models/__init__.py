"""Model classes and nets registered into ppgan's registries."""
from . import generators  # noqa: F401
from . import discriminators  # noqa: F401
