"""Generators registered into ppgan's GENERATORS."""
from .transpose_srresnet import TransposeSRResNet  # noqa: F401
from .lapstyle_draft import LapStyleDraftNet  # noqa: F401
from .lapstyle_encoder import LapStyleVGGEncoder  # noqa: F401
from .lapstyle_pyramid import LapStylePyramidNet  # noqa: F401
from .lapstyle_revision import LapStyleRevisionNet  # noqa: F401
from .stylize_sr import StylizeSRNet  # noqa: F401
from .srvgg_net import SRVGGNetCompact  # noqa: F401
from .magenta_arbitrary import MagentaArbitraryNet, MagentaStylePredictor, MagentaTransformer  # noqa: F401
