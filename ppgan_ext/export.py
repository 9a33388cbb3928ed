"""Names of the former ``ppgan_ext.export`` module, kept importable.

Export lives in :mod:`ppgan_ext.deploy.export`, the exporters of each model
kind in :mod:`ppgan_ext.deploy.exporters`.
"""
from .deploy.export import (DEFAULT_PARITY_SIZES, EXPORTERS, PARITY_ATOL,  # noqa: F401
                            ExportReport, ExportSpec, ParityError, build_model_for_export,
                            check_parity, export_layer, export_model, export_options,
                            load_weights, parse_formats, parse_inputs_size, parse_sizes,
                            register_exporter)
from .deploy.exporters.sr import _value_range  # noqa: F401,E402  (used by ppgan_ext.upscale)
