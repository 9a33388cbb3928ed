"""One exporter per model kind; importing this package registers them all.

* :mod:`.sr`: ``lq -> output`` of image-to-image models (``BaseSRModel`` and
  subclasses, any model with a ``generator`` net);
* :mod:`.lapstyle`: the whole LapStyle pyramid ``(content, style) -> stylized``;
* :mod:`.pretrained`: the generator of a named pretrained model (:mod:`ppgan_ext.zoo`);
* :mod:`.stylize_sr`: the fused LapStyle pyramid + SR upscaler
  ``(content, style) -> stylized x scale``;
* :mod:`.arbitrary`: a named arbitrary-stylization net (``magenta-arbitrary``)
  ``(content, style) -> stylized``.

To export a new model kind, add a module here with a function decorated by
:func:`ppgan_ext.deploy.export_spec.register_exporter` that returns an
:class:`~ppgan_ext.deploy.export_spec.ExportSpec`, and import it below; the Paddle
and ONNX formats and their parity checks need nothing else.
"""
from . import arbitrary, lapstyle, pretrained, sr, stylize_sr  # noqa: F401  (register them)
