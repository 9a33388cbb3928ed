"""Model classes and nets registered into ppgan's registries."""
from . import generators  # noqa: F401
from . import criterions  # noqa: F401
from . import discriminators  # noqa: F401
from . import srgan_model  # noqa: F401
from . import lapstyle_model  # noqa: F401
from . import stylize_sr_model  # noqa: F401
