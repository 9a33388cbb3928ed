"""``paddlegan infer``: run an exported model over an image or a folder.

    paddlegan infer --model-dir inference_model/demo_x4 --input photos/ --output sr/ \
        [--gt hr/] [--tile 256 --tile-overlap 16] [--device cpu|gpu] [--overwrite] \
        [--backend auto|paddle|onnxruntime|openvino] [--precision fp32|bf16] [--tta]
    paddlegan infer --model realsr-df2k-jpeg --input photos/ --output sr/
    paddlegan infer --model pp-msvsr-reds --input clip.mp4 --output clip_x4.mp4 \
        [--window 16 --window-overlap 2] [--tile 128]
    paddlegan infer --model basicvsr-reds --input REDS4/lq --output sr/ [--gt REDS4/gt]

``--model NAME`` runs a named pretrained model (``paddlegan list --models``):
its weights are fetched once into ppgan's cache, exported once into
``~/.cache/ppgan_ext/models/`` and run with the pre/post-processing of its
reference predictor (:mod:`ppgan_ext.apps.pretrained`), tiled for SR models;
``--backend dygraph`` runs Paddle's dynamic graph instead. On a video, image
models run frame by frame and video SR models (``vsr`` in ``paddlegan list
--models``; dynamic graph) run several frames per call (see
:mod:`ppgan_ext.apps.vsr`). A video SR model also takes a folder of frames,
or of sequence sub-folders (PaddleGAN's VSR test sets), and scores each
sequence against ``--gt`` frames as ppgan's VSR validation does (border 0
unless ``--crop-border``).

The backend defaults to the fastest one installed for the folder (OpenVINO
when the folder has an ONNX graph, see :mod:`ppgan_ext.deploy.backends`);
the command prints which backend and precision ran. ``--precision bf16``
runs with OpenVINO on CPUs with native bf16 (AMX / AVX-512 BF16) and is
refused elsewhere.

Writes one PNG per input (same relative path, ``.png``), atomically; outputs
that already exist are kept unless ``--overwrite``. With ``--gt`` it prints a
PSNR/SSIM table (ppgan's PSNR/SSIM computed without Paddle, border of ``scale``
pixels cropped) and writes ``OUTPUT/metrics.csv``. ``--tile N`` processes N x N
input tiles that overlap by ``--tile-overlap`` pixels and blends them, so the
memory needed no longer grows with the image's activations. ``--tta`` averages
the model's outputs over the 8 flips / rotations of each input (test-time
self-ensemble, :mod:`ppgan_ext.self_ensemble`): 8x the time for a small, steady
gain (docs/restoration.md).
"""
import argparse
import os
import sys

from ..tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from ..flags.runtime import add_device_argument, add_runtime_arguments, resolve_device
from .video_flags import add_video_arguments, is_video, run_video_job

HELP = ('super-resolve or restore images, folders and videos with an exported or a named model '
        '(tiled, PSNR/SSIM against --gt)')


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument('--model_dir', default=None, metavar='DIR',
                        help='folder written by `paddlegan export`; or use --model')
    parser.add_argument('--model', default=None, metavar='NAME',
                        help='a named pretrained model (`paddlegan list --models`): fetched '
                             'and exported once, then run as its reference predictor does')
    parser.add_argument('--input', required=True, metavar='PATH',
                        help='an image, a folder (searched recursively) or a video; for a '
                             'video SR --model, a video or a folder of frames (or of '
                             'sequence sub-folders)')
    parser.add_argument('--output', required=True, metavar='PATH',
                        help='folder for the PNGs (a video: the output file, or a folder)')
    parser.add_argument('--gt', default=None, metavar='DIR',
                        help='ground-truth folder (same relative names): PSNR/SSIM table '
                             'and OUTPUT/metrics.csv')
    parser.add_argument('--tile', type=int, default=None, metavar='N',
                        help='tile side in input pixels (0: whole image at once; default: 0, '
                             f"or the --model's own, {DEFAULT_TILE} for SR models); "
                             f'{DEFAULT_TILE} keeps a 4096x4096 x4 output of the 64-feature '
                             'net near 1.3 GiB')
    parser.add_argument('--tile-overlap', type=int, default=DEFAULT_OVERLAP, metavar='M',
                        help='overlap of neighbouring tiles in input pixels '
                             f'(default: {DEFAULT_OVERLAP})')
    add_device_argument(parser, default='cpu')
    add_runtime_arguments(parser, 'the model')
    parser.add_argument('--overwrite', action='store_true',
                        help='recompute outputs that already exist')
    parser.add_argument('--threads', type=int, default=None, metavar='N',
                        help='CPU threads (default: $OMP_NUM_THREADS or all cores)')
    parser.add_argument('--crop-border', type=int, default=None, metavar='N',
                        help="border excluded from PSNR/SSIM (default: the model's scale; "
                             "0 for video SR models, as ppgan's VSR configs)")
    parser.add_argument('--test-y-channel', action='store_true',
                        help='PSNR/SSIM on the Y channel of YCbCr')
    parser.add_argument('--no-onednn', action='store_true',
                        help='Paddle Inference on CPU without oneDNN (implies --backend paddle)')
    parser.add_argument('--tta', action='store_true',
                        help='test-time self-ensemble: average the outputs of the 8 flips / '
                             'rotations of each input (8x the time; --model-dir images only)')
    add_video_arguments(parser, vsr=True)
    return parser


def _run_model(args, progress) -> int:
    """``--model NAME``: a named pretrained model through :mod:`ppgan_ext.apps.pretrained`."""
    from ..apps.pretrained import PretrainedRunner, run_folder
    from ..zoo import registry

    if registry.get(args.model).task == 'vsr':
        return _run_vsr_frames(args)
    for flag, value in (('--model-dir', args.model_dir), ('--gt', args.gt),
                        ('--crop-border', args.crop_border)):
        if value is not None:
            raise ValueError(f"{flag} and --model do not go together (score a --model's "
                             f"outputs with --model-dir after `paddlegan export --model`)")
    runner = PretrainedRunner.create(args.model, args.backend, args.precision, args.tile,
                                     args.tile_overlap, args.threads)
    result = run_folder(runner, args.input, args.output, args.overwrite, progress)
    print(f"model: {args.model}, backend: {runner.backend}, precision: {runner.precision}"
          + (f", tile {runner.tile}" if runner.tile else ''))
    print(f"wrote {len(result.outputs)} image(s) to {args.output}"
          + (f", kept {len(result.reused)} existing (use --overwrite to redo)"
             if result.reused else ''))
    if result.skipped:
        print(f"skipped {len(result.skipped)}: " + '; '.join(result.skipped[:3]),
              file=sys.stderr)
        return 1
    return 0


def _vsr_spec(args):
    """The :class:`~ppgan_ext.apps.vsr.VSRFrames` of ``--model NAME`` (a video SR model)."""
    from ..apps.vsr import VSRFrames

    if args.model_dir is not None:
        raise ValueError("--model-dir and --model do not go together")
    if args.backend not in ('auto', 'dygraph') or args.precision != 'fp32':
        raise ValueError(f"--model {args.model}: video SR models run on Paddle's dynamic "
                         f"graph in fp32 (--backend dygraph), not --backend {args.backend} "
                         f"--precision {args.precision}")
    return VSRFrames(args.model, window=args.window, overlap=args.window_overlap,
                     tile=args.tile or 0, tile_overlap=args.tile_overlap, device=args.device)


def _run_vsr_frames(args) -> int:
    """A video SR model on a folder of frames (or of sequence sub-folders)."""
    from ..apps.vsr import find_sequences, run_frame_folders
    from ..deploy.metrics import metrics_table, write_metrics_csv

    if not os.path.isdir(args.input):
        raise ValueError(f"--model {args.model}: a video SR model (several frames per output); "
                         f"give it a video file or a folder of frames, not {args.input}")
    spec = _vsr_spec(args)
    total = sum(len(frames) for _, frames in find_sequences(args.input))
    spec.check()   # bad options and the weights' fetch fail before the progress bar
    from tqdm import tqdm

    with tqdm(total=total, desc='vsr', unit='frame', file=sys.stderr) as bar:
        result = run_frame_folders(spec, args.input, args.output, gt=args.gt,
                                   crop_border=args.crop_border or 0,
                                   y_channel=args.test_y_channel, overwrite=args.overwrite,
                                   threads=args.threads, on_frame=bar.update)
    print(f"model: {args.model}, backend: dygraph, precision: fp32, window {spec.window}/"
          f"{spec.overlap}" + (f", tile {spec.tile}" if spec.tile else ''))
    done = (f"wrote {len(result.outputs)} frame(s) of {result.sequences} sequence(s) to "
            f"{args.output}" + (f", kept {len(result.reused)} existing (use --overwrite to "
                                f"redo)" if result.reused else ''))
    if result.rows:
        csv_path = os.path.join(args.output, 'metrics.csv')
        write_metrics_csv(csv_path, result.rows, key='sequence')
        print(metrics_table(result.rows, key='sequence'))
        done += f"; metrics in {csv_path}"
    print(done)
    return 0


def _named_video_spec(args):
    """The processor spec of ``--model NAME`` on a video: a video SR model or an image one."""
    from ..zoo import registry

    if args.model_dir is not None:
        raise ValueError("--model-dir and --model do not go together")
    if registry.get(args.model).task == 'vsr':
        return _vsr_spec(args)
    from ..apps.video import NamedFrames

    return NamedFrames(args.model, backend=args.backend, precision=args.precision,
                       tile=args.tile, overlap=args.tile_overlap, device=args.device)


def run(args) -> int:
    args.device = resolve_device(args.device)
    if args.tta and (args.model is not None or is_video(args.input)):
        raise ValueError('--tta runs an exported --model-dir on images, not --model NAME '
                         'or a video')
    if is_video(args.input):   # a video file: frames through the model, sound kept
        from ..apps.video import SRFrames
        if args.model is not None:
            return run_video_job(args, args.input, _named_video_spec(args), suffix='_out')
        return run_video_job(args, args.input, SRFrames(
            args.model_dir, backend=args.backend, precision=args.precision,
            tile=args.tile or 0,
            overlap=args.tile_overlap, device=args.device), suffix='_out')

    from ..apps.infer import infer, summarize
    from ..deploy.metrics import metrics_table, write_metrics_csv

    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")

    def progress(items):
        if len(items) < 2:   # one photo: no bar (and no tqdm import)
            return items
        from tqdm import tqdm

        return tqdm(items, desc='infer', unit='img', file=sys.stderr)

    if args.model is not None:
        return _run_model(args, progress)
    if args.model_dir is None:
        raise ValueError("give --model-dir DIR (from `paddlegan export`) or --model NAME "
                         "(`paddlegan list --models`)")
    if args.backend == 'dygraph':
        raise ValueError("--backend dygraph runs a --model; an exported --model-dir runs on "
                         "paddle, onnxruntime or openvino")
    args.tile = 0 if args.tile is None else args.tile

    result = infer(args.model_dir, args.input, args.output, gt=args.gt, tile=args.tile,
                   overlap=args.tile_overlap, device=args.device, overwrite=args.overwrite,
                   threads=args.threads, crop_border=args.crop_border,
                   y_channel=args.test_y_channel, onednn=not args.no_onednn,
                   backend=args.backend, precision=args.precision, tta=args.tta,
                   progress=progress)
    lines = summarize(result, args.output)
    print(f"backend: {result.backend}, precision: {result.precision}"
          + (', self-ensemble x8 (--tta)' if args.tta else ''))
    if result.rows:
        csv_path = os.path.join(args.output, 'metrics.csv')
        write_metrics_csv(csv_path, result.rows)
        print(metrics_table(result.rows))
        lines['done'] += f"; metrics in {csv_path}"
    print(lines['done'])
    if 'skipped' in lines:
        print(lines['skipped'], file=sys.stderr)
        return 1
    return 0
