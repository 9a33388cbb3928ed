"""``paddlegan export``: config + weights -> Paddle Inference and ONNX models, checked.

Same flags as PaddleGAN's ``tools/export_model.py``::

    paddlegan export -c configs/demo_saltpepper_x4.yaml \
        --load output_dir/RUN/iter_1200_weight.pdparams --output-dir inference_model/demo_x4

writes ``basesrmodel_generator.json`` + ``.pdiparams`` (dynamic N, H, W),
``basesrmodel_generator.onnx`` (paddle2onnx) and ``ppgan_ext.json``, runs the
saved models (Paddle Inference, ONNX Runtime) and the dynamic graph on the
same inputs (32x32, 47x33, 64x72 by default) and fails if they differ by more
than 1e-4. ``--format paddle`` or ``--format onnx`` writes one format only.
``--model NAME`` exports a named pretrained model (``paddlegan list
--models``) with its weights, fetched once into ppgan's cache::

    paddlegan export --model realsr-df2k-jpeg --output-dir inference_model/realsr

``--model magenta-arbitrary`` writes one ``(content, style) -> stylized`` graph
(:mod:`ppgan_ext.deploy.exporters.arbitrary`).

A LapStyle config exports its whole pyramid (draft + ``levels`` revision
nets) as one ``(content, style) -> stylized`` graph::

    paddlegan export -c configs/lapstyle_rev2.yaml \
        --load output_dir/RUN/iter_30000_weight.pdparams --output-dir inference_model/lapstyle
"""
import argparse
import sys

HELP = 'export a trained model to Paddle Inference and ONNX (dynamic H, W); check parity'


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument('-c', '--config-file', metavar='FILE', default=None,
                        help='config file path (or --model)')
    parser.add_argument('--model', default=None, metavar='NAME',
                        help='export a named pretrained model (`paddlegan list --models`) '
                             'with its weights, fetched once into ppgan\'s cache')
    parser.add_argument('--load', metavar='WEIGHTS', default=None,
                        help='weights: *_weight.pdparams or *_checkpoint.pdparams')
    parser.add_argument('-s', '--inputs-size', metavar='SHAPE', default=None,
                        help='input shape(s), -1 = dynamic, ";" between inputs, written '
                             'with "=": -s=-1,3,-1,-1 (default: -1,C,-1,-1 per input)')
    parser.add_argument('--output_dir', default='inference_model', metavar='DIR',
                        help='folder for the exported model (default: inference_model)')
    parser.add_argument('-o', '--opt', nargs='+', default=None, metavar='KEY=VALUE',
                        help='override config entries')
    parser.add_argument('--format', default='paddle,onnx', metavar='FORMATS',
                        help='paddle, onnx, or both comma-separated (default: paddle,onnx); '
                             'the ONNX graph is what onnxruntime and openvino run')
    parser.add_argument('--no-parity', action='store_true',
                        help='skip the saved-model vs dynamic-graph checks')
    parser.add_argument('--parity-sizes', default=None, metavar='HxW,...',
                        help='input sizes of the parity check (default: 32x32,47x33,64x72 '
                             'or export_model.parity_sizes)')
    return parser


def _model_export(args):
    """``--model NAME``: the entry's weights, fetched once, and its exporter."""
    from ..apps.pretrained import ensure_weights, export_pretrained, lapstyle_config
    from ..config import load_config
    from ..deploy.export import export_model, parse_formats, parse_sizes
    from ..zoo import registry

    for flag, value in (('-c', args.config_file), ('--load', args.load),
                        ('-s', args.inputs_size), ('-o', args.opt)):
        if value:
            raise ValueError(f"{flag} and --model do not go together (a named model brings "
                             f"its own config and weights)")
    entry = registry.get(args.model)
    if entry.task == 'vsr':
        raise ValueError(f"--model {args.model}: video SR models are not exported (their "
                         f"flow warping and deformable convolutions do not convert to ONNX; "
                         f"docs/video.md, 'Export'); `paddlegan infer --model {args.model}` "
                         f"runs them")
    weights = ensure_weights(entry)
    formats = parse_formats(args.format)
    if entry.extra.get('pipeline') == 'lapstyle':
        config = lapstyle_config()
        sizes = parse_sizes(args.parity_sizes) if args.parity_sizes else None
        return export_model(load_config(config), weights, args.output_dir,
                            parity=not args.no_parity, parity_sizes=sizes, config_path=config,
                            formats=formats)
    if args.parity_sizes:
        raise ValueError("--parity-sizes: a named model checks the sizes its net accepts")
    return export_pretrained(entry, weights, args.output_dir, formats, not args.no_parity)


def run(args) -> int:
    import os

    from ..config import load_config
    from ..deploy.export import (ParityError, export_model, parse_formats, parse_inputs_size,
                                 parse_sizes)
    from ..deploy.onnx_convert import OnnxConversionError

    if (args.config_file is None) == (args.model is None):
        raise ValueError("give -c CONFIG (with --load WEIGHTS) or --model NAME, not both"
                         if args.model else "give -c CONFIG (with --load WEIGHTS) or --model "
                         "NAME (`paddlegan list --models`)")
    try:
        if args.model is not None:
            report = _model_export(args)
        else:
            cfg = load_config(args.config_file, args.opt)
            inputs_size = parse_inputs_size(args.inputs_size)
            sizes = parse_sizes(args.parity_sizes) if args.parity_sizes else None
            formats = parse_formats(args.format)
            if args.load and not os.path.isfile(args.load):
                raise FileNotFoundError(f"--load: file not found: {args.load}")
            if not args.load:
                print('warning: no --load given; exporting the weights the model is built '
                      'with', file=sys.stderr)
            report = export_model(cfg, args.load, args.output_dir, inputs_size,
                                  parity=not args.no_parity, parity_sizes=sizes,
                                  config_path=args.config_file, formats=formats)
    except (ParityError, OnnxConversionError) as e:
        print(f'error: {e}; nothing written to {args.output_dir}', file=sys.stderr)
        return 1
    spec = report.spec
    inputs = ', '.join(f"{s.name}{list(int(d) if d else -1 for d in s.shape)}"
                       for s in spec.input_specs)
    if 'levels' in spec.meta:  # a LapStyle pyramid
        detail = f"draft + {spec.meta['levels']} revision level(s)"
    elif spec.meta.get('arbitrary'):
        detail = 'arbitrary stylization, float form'
    else:
        detail = f"x{spec.scale}"
    written = ([f"{report.model_file} + {os.path.basename(report.params_file)}"]
               if report.model_file else []) + ([report.onnx_file] if report.onnx_file else [])
    print(f"exported {spec.name} ({spec.kind}, {detail}, inputs {inputs}) to "
          f"{' and '.join(written)}")
    if report.diffs:
        sizes_text = ', '.join(f'{h}x{w}' for (h, w), _ in report.diffs)
        onednn = (f"; oneDNN passes removed: {', '.join(report.deleted_passes)}"
                  if report.deleted_passes else '')
        print(f"parity: max |Paddle Inference - dynamic graph| = {report.max_abs_diff:.3g} "
              f"over {sizes_text} (limit 1e-4){onednn}")
    if report.onnx_diffs:
        sizes_text = ', '.join(f'{h}x{w}' for (h, w), _ in report.onnx_diffs)
        print(f"parity: max |ONNX Runtime - dynamic graph| = {report.onnx_max_abs_diff:.3g} "
              f"over {sizes_text} (limit 1e-4)")
    if not report.diffs and not report.onnx_diffs:
        print('parity: not checked (--no-parity)')
    return 0
