"""ppgan-ext: GAN-based image restoration and style transfer components for PaddleGAN.

``import ppgan_ext`` is the whole plugin hook: our components are registered
into PaddleGAN's own registries, and ppgan made importable on the installed
Paddle (:mod:`ppgan_ext.compat`), as soon as ppgan is imported (at once if it
already is), so ordinary PaddleGAN configs and ppgan's ``Trainer`` can name
them. Importing ppgan_ext itself loads neither Paddle nor ppgan: the ONNX
Runtime / OpenVINO paths and every ``--help`` never pay for them (see
:mod:`ppgan_ext.plugin`). :func:`register` registers explicitly.
"""
from .plugin import install, register  # noqa: F401

install()

__version__ = '0.1.0'
