"""``paddlegan quantize``: an int8 graph beside the fp32 one, kept only if it holds quality.

    paddlegan quantize --model-dir inference_model/demo_x4 \
        [--calibration train_lq/] [--heldout test_lq/ --heldout-gt test_gt/] [--margin 0.1]

NNCF quantizes the folder's ONNX graph after calibrating it on training
photos (or ``--calibration``); the int8 graph runs next to fp32 on held-out
photos and is refused with one line if SR loses more than ``--margin`` dB
PSNR against the ground truth, or a stylized output is less than
``--min-psnr`` dB from fp32's. Then ``paddlegan infer|stylize --precision
int8`` runs it (OpenVINO). See :mod:`ppgan_ext.deploy.quantize`.
"""
import argparse

HELP = 'quantize an exported model to int8 (NNCF), checked against fp32 on held-out photos'


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from ..deploy.quantize import SR_MARGIN_DB, STYLIZE_MIN_PSNR_DB

    parser.add_argument('--model_dir', required=True, metavar='DIR',
                        help='folder written by `paddlegan export` (with an ONNX graph)')
    parser.add_argument('--calibration', default=None, metavar='DIR',
                        help='SR: images fed to the model for calibration (e.g. degraded '
                             'training inputs; default: scikit-image training photos, '
                             'downscaled by the scale)')
    parser.add_argument('--heldout', default=None, metavar='DIR',
                        help='SR: held-out inputs for the quality check (with --heldout-gt; '
                             'default: the held-out scikit-image photos, downscaled)')
    parser.add_argument('--heldout-gt', default=None, metavar='DIR',
                        help='ground truth of --heldout (same relative names)')
    parser.add_argument('--margin', type=float, default=SR_MARGIN_DB, metavar='DB',
                        help=f'SR: largest mean PSNR loss allowed against fp32 (default: '
                             f'{SR_MARGIN_DB} dB)')
    parser.add_argument('--min-psnr', type=float, default=STYLIZE_MIN_PSNR_DB, metavar='DB',
                        help=f'stylize: smallest PSNR of int8 from fp32 output allowed '
                             f'(default: {STYLIZE_MIN_PSNR_DB} dB)')
    parser.add_argument('--threads', type=int, default=None, metavar='N',
                        help='CPU threads (default: $OMP_NUM_THREADS or all cores)')
    return parser


def run(args) -> int:
    import sys

    from ..deploy.cpu import cpu_name, int8_flags
    from ..deploy.quantize import QuantizationRefused, quantize_model_dir

    if args.margin < 0:
        raise ValueError(f"--margin must be >= 0, got {args.margin}")
    try:
        report = quantize_model_dir(args.model_dir, args.calibration, args.heldout,
                                    args.heldout_gt, args.margin, args.min_psnr, args.threads,
                                    progress=print)
    except QuantizationRefused as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    for row in report.rows:
        if 'psnr_int8' in row:
            print(f"{row['image']}: PSNR fp32 {row['psnr_fp32']:.4f} dB, "
                  f"int8 {row['psnr_int8']:.4f} dB")
        else:
            print(f"{row['image']}: int8 vs fp32 {row['int8_vs_fp32']:.2f} dB")
    record = report.record
    if 'loss_db' in record:
        verdict = (f"mean PSNR {record['psnr_fp32_db']:.4f} -> {record['psnr_int8_db']:.4f} dB "
                   f"(loss {record['loss_db']:.4f} dB, margin {record['margin_db']} dB)")
    else:
        verdict = (f"worst int8 vs fp32 {record['min_int8_vs_fp32_db']:.2f} dB "
                   f"(>= {record['min_allowed_db']} dB)")
    flags = ', '.join(int8_flags()) or 'none: int8 runs without native int8 dot products'
    print(f"wrote {report.int8_file}: {verdict}; run it with --precision int8 "
          f"(CPU: {cpu_name()}; int8 flags: {flags})")
    return 0
