"""``paddlegan stylize``: LapStyle style transfer of an image or a folder, at full resolution.

    paddlegan stylize --content photo.jpg --style starry.png \
        --weights output_dir/lapstyle_rev2-*/iter_30000_weight.pdparams --output stylized/

Every content image is stylized at its own size (padded inside the pyramid,
cropped back), so the output PNG has exactly the input's size. The weights
are a LapStyle checkpoint or weight file (ours or ppgan's: ``net_enc``,
``net_dec``, ``net_rev``, ``net_rev_2`` ...); the number of revision levels
is read from it unless ``--levels`` asks for fewer.

``--model_dir`` instead runs a pyramid exported with ``paddlegan export``
(sidecar kind ``stylize``) with the predictors of ``paddlegan infer``:
``--backend`` (default: the fastest installed for the folder) and
``--precision fp32|bf16`` (bf16: OpenVINO on CPUs with native bf16)::

    paddlegan stylize --content photos/ --style starry.png \
        --model_dir inference_model/lapstyle --output stylized/ [--precision bf16]

``--model NAME`` runs a named pretrained style (``paddlegan list --models``,
e.g. PaddleGAN's ``lapstyle-starrynew``): its weights are fetched once into
ppgan's cache and exported once into ``~/.cache/ppgan_ext/models/``, then run
like ``--model_dir`` (``--backend dygraph``: like ``--weights``).
``--style NAME`` with the name of one of PaddleGAN's LapStyle styles
(``starrynew``, ``stars``, ``ocean``, ``circuit``) picks that style's model and
its style image, which the user puts in ``~/.cache/ppgan/lapstyle_styles/``::

    paddlegan stylize --content photos/ --style starrynew --output stylized/

``--upscale SR_MODEL`` super-resolves each stylized image x2/x4 (see
:mod:`ppgan_ext.cli.upscale_flags`); ``SR_MODEL`` may be a named SR model.

PNGs are written atomically; outputs that already exist are kept unless
``--overwrite``.
"""
import os
from typing import Callable, List, Optional, Tuple

import numpy as np

from .upscale_flags import add_upscale_arguments, apply_upscale

HELP = 'stylize an image or a folder with a trained LapStyle pyramid (full resolution)'

# (1, 3, H, W) content, (1, 3, H', W') style, float32 in [0, 1] -> (1, 3, H, W) in [0, 1]
Stylizer = Callable[[np.ndarray, np.ndarray], np.ndarray]


def add_arguments(parser):
    parser.add_argument('--content', required=True, metavar='IMG_OR_DIR',
                        help='content image, or a folder of them (searched recursively)')
    parser.add_argument('--style', required=True, metavar='IMG',
                        help="style image, or the name of one of PaddleGAN's LapStyle styles "
                             '(starrynew, stars, ocean, circuit)')
    parser.add_argument('--model', default=None, metavar='NAME',
                        help='a named pretrained style model (`paddlegan list --models`); '
                             'instead of --weights/--model_dir')
    parser.add_argument('--weights', default=None, metavar='CKPT',
                        help='LapStyle weight/checkpoint file (*.pdparams; a glob pattern '
                             'picks the newest match); or use --model_dir')
    parser.add_argument('--model_dir', default=None, metavar='DIR',
                        help='a LapStyle pyramid exported with `paddlegan export` (run with '
                             '--backend); instead of --weights')
    parser.add_argument('--backend', default='auto',
                        choices=('auto', 'paddle', 'onnxruntime', 'openvino', 'dygraph'),
                        help='runtime of --model_dir/--model (default auto: the fastest '
                             "installed; dygraph: --model on Paddle's dynamic graph)")
    parser.add_argument('--precision', default='fp32', choices=('fp32', 'bf16'),
                        help='precision of --model_dir: fp32 (default) or bf16 (openvino, '
                             'CPUs with AMX/AVX-512 BF16)')
    parser.add_argument('--levels', type=int, default=None, metavar='K',
                        help='revision levels to use with --weights (default: all in the '
                             'weights; 0 = drafting net only); --model_dir runs the exported ones')
    parser.add_argument('--output', default='output_dir/stylized', metavar='DIR',
                        help='output folder for the PNGs (default: output_dir/stylized)')
    parser.add_argument('--style-size', type=int, default=None, metavar='N',
                        help="resize the style to N before use (default: the top level's "
                             "training size, 128 * 2**K; 0: keep its size): to N x N for "
                             "weights of ppgan's semantics (as PaddleGAN does), the shorter "
                             "side to N for the exact semantics")
    parser.add_argument('--no-cuda', action='store_true', help='run on CPU')
    parser.add_argument('--overwrite', action='store_true',
                        help='recompute outputs that already exist')
    add_upscale_arguments(parser)


def build_dygraph_stylizer(weights: str, levels=None) -> Tuple[Stylizer, int]:
    """A stylizer running :class:`LapStylePyramidNet` in dynamic graph; also its level count.

    The pyramid semantics comes from the weights (a file without a record is
    ppgan's, so PaddleGAN's released styles give ppgan's output). The style
    is encoded once and reused while the same style array is passed.

    Raises:
        FileNotFoundError / ValueError: missing or unreadable weights, or
            ``levels`` above what the weights hold.
    """
    import paddle

    from ..models.generators.lapstyle_pyramid import pyramid_from_weights

    net = pyramid_from_weights(weights, levels, key='--weights', levels_key='--levels')
    levels = net.levels
    encoded: List = []  # [(style array, its features)]

    def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            if not encoded or not (encoded[0][0] is style or np.array_equal(encoded[0][0], style)):
                encoded[:] = [(style, net.encode_style(paddle.to_tensor(style)))]
            return net.forward_encoded(paddle.to_tensor(content), encoded[0][1]).numpy()

    stylize.semantics = net.semantics
    return stylize, levels


def resize_style(img: np.ndarray, size: int, semantics: str) -> np.ndarray:
    """The style image as the pyramid is fed: (H, W, 3) uint8 RGB -> resized uint8 RGB.

    ``'ppgan'``: ``size x size`` with PIL's bilinear filter, as PaddleGAN's
    ``LapStylePredictor`` (and its training data) does; ``'exact'``: the
    shorter side to ``size``, keeping the aspect ratio. ``size`` 0: unchanged.
    """
    from ..datasets.lapstyle_dataset import resize_short_side

    if not size:
        return img
    if semantics == 'ppgan':
        from PIL import Image
        if img.shape[:2] == (size, size):
            return img
        return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
    return resize_short_side(img, size)


def build_predictor_stylizer(model_dir: str, levels=None, device: str = 'cpu',
                             backend: Optional[str] = None,
                             precision: str = 'fp32') -> Tuple[Stylizer, int]:
    """A stylizer running an exported pyramid; also its level count.

    The predictor is :func:`ppgan_ext.deploy.create_predictor`'s, as in
    ``paddlegan infer``: ``backend`` None / ``'auto'`` picks the fastest
    installed for the folder; ``precision`` ``'bf16'`` needs OpenVINO and a
    CPU with native bf16. The stylizer's ``predictor`` attribute tells
    which backend runs.

    Raises:
        FileNotFoundError / ValueError: not an exported model, a model of
            another kind than ``stylize``, or ``levels`` other than the
            exported pyramid's.
    """
    from ..deploy.backends import create_predictor
    from ..deploy.model_dir import SIDECAR_NAME, read_model_dir

    info = read_model_dir(model_dir)
    if info.kind != 'stylize':
        raise ValueError(f"--model_dir {model_dir}: a {info.kind!r} model; `paddlegan stylize` "
                         f"runs exported LapStyle pyramids (kind 'stylize'; run this one with "
                         f"`paddlegan infer`)")
    exported = info.sidecar.get('levels')
    if len(info.inputs) != 2 or not isinstance(exported, int):
        raise ValueError(f"--model_dir {model_dir}: {SIDECAR_NAME} does not describe a LapStyle "
                         f"pyramid (two inputs and 'levels' expected)")
    if levels is not None and levels != exported:
        raise ValueError(f"--levels {levels}: {model_dir} holds a pyramid with {exported} "
                         f"revision level(s); --levels selects levels with --weights only")
    predictor = create_predictor(info, backend, precision, device)

    def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        return predictor(content, style)

    stylize.predictor = predictor
    stylize.semantics = info.sidecar.get('semantics', 'ppgan')
    return stylize, exported


def _to_batch(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def stylize_files(pairs: List[Tuple[str, str]], style: np.ndarray, stylize: Stylizer,
                  strict: Optional[bool] = None) -> List[str]:
    """Stylize every ``(source, destination)`` pair with ``stylize``; PNGs written atomically.

    ``stylize`` is any :data:`Stylizer` (the dynamic-graph pyramid, or an
    exported model behind the same call). Returns the messages of the
    unreadable sources that were skipped; with ``strict`` (default: when
    there is one pair only) an unreadable source raises instead.
    """
    from tqdm import tqdm

    from ..image_io import read_image as read_rgb
    from ..image_io import write_png

    strict = len(pairs) == 1 if strict is None else strict
    skipped = []
    for src, dst in tqdm(pairs, desc='stylize', unit='img', disable=len(pairs) == 1):
        try:
            content = read_rgb(src)
        except (ValueError, FileNotFoundError) as e:
            if strict:
                raise
            skipped.append(str(e))
            continue
        out = stylize(_to_batch(content), style)[0]
        img = (np.clip(out, 0.0, 1.0).transpose(1, 2, 0)[:, :, ::-1] * 255.0 + 0.5)
        write_png(dst, img.astype(np.uint8), channel_order='BGR')
    return skipped


def resolve_named_model(args) -> None:
    """``--model NAME`` / ``--style NAME``: fill ``args.weights`` or ``args.model_dir`` and the
    style image from the named model (fetched and exported once)."""
    from ..zoo import registry
    from ..zoo.ppgan_models import LAPSTYLE_STYLES

    style_name = args.style if (args.style in LAPSTYLE_STYLES
                                and not os.path.isfile(args.style)) else None
    if args.model is None and style_name is None:
        if args.backend == 'dygraph':
            raise ValueError("--backend dygraph runs a --model; --weights always runs the "
                             "dynamic graph")
        return
    if args.model is None:
        args.model = f'lapstyle-{style_name}'
    if args.weights is not None or args.model_dir is not None:
        raise ValueError("--model (or --style NAME) brings its own weights; drop "
                         "--weights/--model_dir")
    entry = registry.get(args.model)
    if entry.task != 'stylize':
        raise ValueError(f"--model {args.model}: a {entry.task!r} model; stylize takes "
                         f"{', '.join(registry.names('stylize'))}")
    from ..apps.pretrained import ensure_weights, exported_model_dir, style_image_for

    if entry.extra.get('pipeline') != 'lapstyle':   # arbitrary stylization: style image in
        if args.backend not in ('auto', 'dygraph') or args.precision != 'fp32':
            raise ValueError(f"--model {args.model}: runs on Paddle's dynamic graph in fp32 "
                             f"here (drop --backend/--precision)")
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

    stylize = arbitrary_stylizer(args.model, device)
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
    import paddle

    from ..datasets.lapstyle_dataset import read_rgb
    from ..pyramid import min_style_side, top_level_size
    from ..utils import plan_png_outputs, remove_stale_temp_files

    if args.levels is not None and args.levels < 0:
        raise ValueError(f"--levels must be >= 0, got {args.levels}")
    resolve_named_model(args)
    arbitrary = args.model is not None and args.weights is None and args.model_dir is None
    if not arbitrary and (args.weights is None) == (args.model_dir is None):
        raise ValueError("--weights and --model_dir are mutually exclusive; give exactly one "
                         "(a weight file, or a folder from `paddlegan export`)"
                         if args.weights else "give --weights CKPT or --model_dir DIR")
    if not arbitrary and args.weights is not None and (args.backend != 'auto'
                                                       or args.precision != 'fp32'):
        raise ValueError("--backend/--precision choose how --model_dir runs; --weights runs the "
                         "dynamic graph in fp32")
    if args.style_size is not None and args.style_size < 0:
        raise ValueError(f"--style-size must be >= 0, got {args.style_size}")
    pairs = plan_png_outputs(args.content, args.output, '--content')
    remove_stale_temp_files(args.output)   # partial files of a killed run
    if os.path.realpath(args.style) in {os.path.realpath(d) for _, d in pairs}:
        raise ValueError(f"--output: writing there would overwrite the style image {args.style}")
    style_img = read_rgb(args.style)
    device = 'gpu' if paddle.is_compiled_with_cuda() and not args.no_cuda else 'cpu'
    if args.model is not None and args.weights is None and args.model_dir is None:
        return _run_arbitrary(args, pairs, style_img, device)
    if args.model_dir is not None:
        stylize, levels = build_predictor_stylizer(args.model_dir, args.levels, device,
                                                   args.backend, args.precision)
        print(f'backend: {stylize.predictor.backend}, precision: '
              f'{stylize.predictor.precision}')
    else:
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
    skipped = stylize_files(todo, _to_batch(style_img), stylize,
                            strict=not os.path.isdir(args.content))
    done = len(todo) - len(skipped)
    kept = len(pairs) - len(todo)
    print(f'stylized {done} image(s) into {args.output} ({levels} revision level(s))'
          + (f', kept {kept} existing (use --overwrite to redo)' if kept else ''))
    if skipped:
        print(f'skipped {len(skipped)} unreadable file(s), first: {skipped[0]}')
    return 0 if done or kept else 2
