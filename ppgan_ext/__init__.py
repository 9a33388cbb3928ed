"""ppgan-ext: GAN-based image restoration and style transfer components for PaddleGAN.

``import ppgan_ext`` is the whole plugin hook: it makes ppgan importable on the
installed Paddle (:mod:`ppgan_ext.compat`) and registers every component of this
package into PaddleGAN's own registries, so ordinary PaddleGAN configs can name
them.
"""
from . import compat

compat.apply()

from . import datasets  # noqa: E402,F401  (registers DATASETS)
from . import models  # noqa: E402,F401  (registers GENERATORS, MODELS, ...)
from . import metrics  # noqa: E402,F401  (registers METRICS)
from . import stylize_sr_export  # noqa: E402,F401  (registers the fused net's exporter)

__version__ = '0.1.0'
