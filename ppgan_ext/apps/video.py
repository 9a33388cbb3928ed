"""Restore, super-resolve or stylize a video file: the frame processors and the job.

    from ppgan_ext.apps.video import SRFrames, StylizeFrames, run_video
    run_video('clip.mp4', 'clip_x4.mp4', SRFrames('inference_model/demo_x4'), workers=2)
    run_video('clip.mp4', 'clip_starry.mp4',
              StylizeFrames('starry.png', weights='lapstyle.pdparams'))

A processor spec names a model and its options; it is small and picklable so
that worker processes build the model themselves (see
:mod:`ppgan_ext.video.chunks`). Frames reach the model upright (rotation
applied) as RGB; the output keeps the source's timestamps and audio
(:mod:`ppgan_ext.video.io`).

* :class:`SRFrames`: an exported image-to-image model folder (``paddlegan
  export``, kind ``'sr'``: super-resolution or same-size restoration) on any
  backend, tiled like ``paddlegan infer --tile``.
* :class:`NamedFrames`: a named image SR / restoration model of the
  registry, frame by frame; named video SR models (several frames per
  output) run through :class:`ppgan_ext.apps.vsr.VSRFrames`.
* :class:`StylizeFrames`: a LapStyle pyramid (weight file in dynamic graph,
  the style encoded once; or an exported folder), with flow-guided temporal
  blending (:class:`ppgan_ext.video.temporal.TemporalBlender`) unless
  ``temporal=0``; with ``upscale=`` a :class:`StylizeUpscale`, each frame is
  stylized at a working size, blended there and super-resolved by an SR
  model (``paddlegan stylize --upscale``)::

      StylizeFrames('starry.png', weights='lapstyle.pdparams',
                    upscale=StylizeUpscale('inference_model/sr_x4', work_size=480))
"""
import os
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from ..tiling import DEFAULT_OVERLAP, DEFAULT_TILE, tiled_apply, to_uint8_hwc
from ..video.chunks import DEFAULT_CHUNK, ChunkResult, process_video
from ..video.io import DEFAULT_CRF, DEFAULT_PRESET, VIDEO_EXTENSIONS, probe
from ..video.temporal import TemporalBlender

__all__ = ['SRFrames', 'NamedFrames', 'StylizeFrames', 'StylizeUpscale', 'video_output_path',
           'run_video']

TEMPORAL_WARMUP = 8   # frames run before a chunk so the blend starts in its steady state


def _chw(rgb: np.ndarray, order: str = 'RGB') -> np.ndarray:
    img = rgb[:, :, ::-1] if order == 'BGR' else rgb
    return np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255.0


class _SRProcessor:
    warmup = 0

    def __init__(self, predictor, info, tile: int, overlap: int):
        self.predictor = predictor
        self.info = info
        self.scale = int(info.scale or 1)
        self.tile, self.overlap = tile, overlap

    def reset(self) -> None:
        pass

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        order = self.info.channel_order
        image = _chw(rgb, order)
        low, high = self.info.value_range
        if (low, high) != (0.0, 1.0):
            image = image * (high - low) + low
        out = tiled_apply(self.predictor, image, self.scale, self.tile, self.overlap, 3)
        if (low, high) != (0.0, 1.0):
            out = (out - low) / (high - low)
        hwc = to_uint8_hwc(out)
        return np.ascontiguousarray(hwc[:, :, ::-1]) if order == 'BGR' else hwc


@dataclass(frozen=True)
class SRFrames:
    """Every frame through an exported ``'sr'`` model folder (SR or restoration).

    Args:
        model_dir (str): Folder written by ``paddlegan export`` (kind ``'sr'``).
        backend (str): ``'auto'``, ``'paddle'``, ``'onnxruntime'`` or
            ``'openvino'``. Default: 'auto'.
        precision (str): ``'fp32'`` or ``'bf16'``. Default: 'fp32'.
        tile (int): Tile side in input pixels (0: whole frame). Default: 0.
        overlap (int): Tile overlap in input pixels. Default: 16.
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
    """
    model_dir: str
    backend: str = 'auto'
    precision: str = 'fp32'
    tile: int = 0
    overlap: int = DEFAULT_OVERLAP
    device: str = 'cpu'

    def describe(self) -> dict:
        return {'kind': 'sr', **asdict(self), 'model_dir': os.path.abspath(self.model_dir)}

    def check(self):
        """The model folder's :class:`ModelInfo`; ValueError if it is not a one-input 'sr' model."""
        from ..deploy.model_dir import read_model_dir

        if self.tile < 0:
            raise ValueError(f"--tile must be >= 0, got {self.tile}")
        if self.tile and not 0 <= self.overlap < self.tile:
            raise ValueError(f"--tile-overlap must be in [0, --tile) = [0, {self.tile}), "
                             f"got {self.overlap}")
        info = read_model_dir(self.model_dir)
        if info.kind != 'sr' or len(info.inputs) != 1:
            raise ValueError(f"--model-dir {self.model_dir}: a {info.kind!r} model with "
                             f"{len(info.inputs)} input(s); video frames run through one-input "
                             f"'sr' models (LapStyle: `paddlegan stylize --content VIDEO`)")
        return info

    def build(self, threads: Optional[int] = None) -> _SRProcessor:
        from ..deploy.backends import create_predictor

        info = self.check()
        predictor = create_predictor(info, self.backend, self.precision, self.device, threads)
        processor = _SRProcessor(predictor, info, self.tile, self.overlap)
        processor.backend, processor.precision = predictor.backend, predictor.precision
        return processor


class _NamedProcessor:
    warmup = 0

    def __init__(self, runner):
        self.runner = runner
        self.backend, self.precision = runner.backend, runner.precision

    def reset(self) -> None:
        pass

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.runner.run(rgb)


@dataclass(frozen=True)
class NamedFrames:
    """Every frame through a named image-to-image model (``paddlegan list --models``).

    Runs as :class:`ppgan_ext.apps.pretrained.PretrainedRunner` does on
    images: the reference predictor's pre/post-processing, tiled for SR
    models. The weights (and for a backend other than ``'dygraph'`` the
    export) are made once, by :meth:`check`, before any worker starts.

    Args:
        model (str): A registered ``'sr'`` or ``'restore'`` model.
        backend (str): ``'auto'``, ``'dygraph'``, ``'paddle'``,
            ``'onnxruntime'`` or ``'openvino'``. Default: 'auto'.
        precision (str): ``'fp32'`` or ``'bf16'``. Default: 'fp32'.
        tile (int, optional): Tile side (None: the model's default).
        overlap (int): Tile overlap in input pixels. Default: 16.
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
    """
    model: str
    backend: str = 'auto'
    precision: str = 'fp32'
    tile: Optional[int] = None
    overlap: int = 16
    device: str = 'cpu'

    def describe(self) -> dict:
        return {'kind': 'named', **asdict(self)}

    def check(self) -> None:
        from ..zoo import registry
        from .pretrained import ensure_weights, exported_model_dir

        entry = registry.get(self.model)
        if entry.task not in ('sr', 'restore'):
            raise ValueError(f"--model {self.model}: a {entry.task!r} model; videos run "
                             f"through 'sr', 'restore' and 'vsr' models")
        if self.backend == 'dygraph':
            ensure_weights(entry)
        else:
            exported_model_dir(self.model)

    def build(self, threads: Optional[int] = None) -> _NamedProcessor:
        from .pretrained import PretrainedRunner

        return _NamedProcessor(PretrainedRunner.create(
            self.model, self.backend, self.precision, self.tile, self.overlap, threads,
            device=self.device, progress=False))


class _StylizeProcessor:

    def __init__(self, stylize, style: np.ndarray, blender: Optional[TemporalBlender],
                 upscaler=None, work_size: int = 0):
        self.stylize = stylize
        self.style = style
        self.blender = blender
        self.upscaler = upscaler
        self.work_size = work_size
        self.warmup = TEMPORAL_WARMUP if blender is not None else 0

    def reset(self) -> None:
        if self.blender is not None:
            self.blender.reset()

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        if self.work_size and max(rgb.shape[:2]) > self.work_size:
            from ..upscale import resize_to_work_size

            # an 8-bit frame of the working size: stylized, and the blend's motion, there
            rgb = to_uint8_hwc(resize_to_work_size(_chw(rgb)[None], self.work_size)[0])
        result = to_uint8_hwc(self.stylize(_chw(rgb)[None], self.style)[0])
        if self.blender is not None:
            result = self.blender(rgb, result)
        if self.upscaler is not None:
            result = to_uint8_hwc(self.upscaler(_chw(result)))
        return result


@dataclass(frozen=True)
class StylizeUpscale:
    """Super-resolution of each stylized frame: the ``--upscale`` options of ``paddlegan stylize``.

    The frame is shrunk to ``work_size`` (if larger; area filter, rounded to
    8 bits like a frame of a clip of that size), stylized and blended with
    the previous output there, and the 8-bit result is super-resolved tile by
    tile as ``paddlegan stylize --upscale`` does for an image, so the video is
    ``scale`` times the working size: the frames of ``StylizeFrames`` on the
    shrunk clip, each through the upscaler.

    Args:
        model (str): Exported SR model folder (kind ``'sr'``), a weight file
            (with ``config``), or the name of a registered SR model (exported
            once, by :meth:`check`).
        config (str, optional): Training config of a weight file.
        tile (int): Tile side in input pixels (0: whole frame). Default: 128.
        overlap (int): Tile overlap in input pixels. Default: 16.
        backend (str): Backend of an exported folder. Default: 'auto'.
        precision (str): ``'fp32'`` or ``'bf16'`` (exported folder).
            Default: 'fp32'.
        work_size (int): Longer side frames are shrunk to before stylizing
            (0: their own size). Default: 0.
    """
    model: str
    config: Optional[str] = None
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    backend: str = 'auto'
    precision: str = 'fp32'
    work_size: int = 0

    def describe(self) -> dict:
        d = asdict(self)
        for key in ('model', 'config'):   # a registered name stays a name
            if d[key] and os.path.exists(d[key]):
                d[key] = os.path.abspath(d[key])
        return d

    def _path(self) -> str:
        from .pretrained import resolve_named

        return self.model if self.config is not None else \
            resolve_named(self.model, '--upscale', 'sr')

    def check(self) -> None:
        """Raise the one-line error of a bad option or model; export a named model once."""
        from ..upscale import check_upscaler

        if self.work_size < 0:
            raise ValueError(f"--work-size must be >= 0, got {self.work_size}")
        check_upscaler(self._path(), self.config, self.tile, self.overlap, self.backend,
                       self.precision)

    def build(self, device: str = 'cpu', threads: Optional[int] = None):
        """The :class:`ppgan_ext.upscale.Upscaler`."""
        from ..upscale import load_upscaler

        return load_upscaler(self._path(), self.config, device, self.tile, self.overlap,
                             threads, self.backend, self.precision)


@dataclass(frozen=True)
class StylizeFrames:
    """Every frame through a LapStyle pyramid, steadied by flow-guided blending.

    Args:
        style (str): Style image.
        weights (str, optional): LapStyle weight/checkpoint file (dynamic
            graph; the style is encoded once). Give this or ``model_dir``.
        model_dir (str, optional): Pyramid exported with ``paddlegan export``.
        model (str, optional): A registered stylize model whose weights ship in
            a package (``'magenta-arbitrary'``), instead of ``weights`` /
            ``model_dir``; its style vector is computed once.
        levels (int, optional): Revision levels used from ``weights``.
            Default: all.
        style_size (int, optional): Style resize (0: keep). Default: the top
            level's training size.
        temporal (float): Blend weight of the warped previous output on
            reliable pixels, in [0, 1); 0 stylizes frame by frame. Default: 0.75.
        backend (str): Backend of ``model_dir``. Default: 'auto'.
        precision (str): Precision of ``model_dir``. Default: 'fp32'.
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        upscale (StylizeUpscale, optional): Stylize at its working size and
            super-resolve each frame. Default: None.
    """
    style: str
    weights: Optional[str] = None
    model_dir: Optional[str] = None
    model: Optional[str] = None
    levels: Optional[int] = None
    style_size: Optional[int] = None
    temporal: float = 0.75
    backend: str = 'auto'
    precision: str = 'fp32'
    device: str = 'cpu'
    upscale: Optional[StylizeUpscale] = None

    def describe(self) -> dict:
        d = {'kind': 'stylize', **asdict(self)}
        for key in ('style', 'weights', 'model_dir'):   # 'model' is a name
            if d[key]:
                d[key] = os.path.abspath(d[key])
        if self.upscale is None:   # the manifest of a run without it, as before it existed
            del d['upscale']
        else:
            d['upscale'] = self.upscale.describe()
        return d

    def check(self) -> None:
        given = [x for x in (self.weights, self.model_dir, self.model) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of --load WEIGHTS, --model-dir DIR, --model NAME")
        if not 0.0 <= self.temporal < 1.0:
            raise ValueError(f"--temporal must be in [0, 1), got {self.temporal}")
        if not os.path.isfile(self.style):
            raise FileNotFoundError(f"--style {self.style}: no such file")
        if self.upscale is not None:
            self.upscale.check()

    def _stylizer(self, threads: Optional[int]):
        if self.model_dir is not None:
            from ..deploy.backends import create_predictor
            from ..deploy.model_dir import read_model_dir

            info = read_model_dir(self.model_dir)
            levels = info.sidecar.get('levels')
            if info.kind != 'stylize' or not isinstance(levels, int):
                raise ValueError(f"--model-dir {self.model_dir}: a {info.kind!r} model; "
                                 f"stylizing runs exported LapStyle pyramids (kind 'stylize')")
            if self.levels is not None and self.levels != levels:
                raise ValueError(f"--levels {self.levels}: {self.model_dir} holds {levels} "
                                 f"revision level(s)")
            predictor = create_predictor(info, self.backend, self.precision, self.device,
                                         threads)
            return predictor, levels, info.sidecar.get('semantics', 'ppgan')
        import paddle

        from ..models.generators.lapstyle_pyramid import pyramid_from_weights

        paddle.set_device(self.device)
        net = pyramid_from_weights(self.weights, self.levels, key='--load',
                                   levels_key='--levels')
        encoded = {}

        def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
            with paddle.no_grad():
                if 'style' not in encoded:   # one style per processor: encoded once
                    encoded['style'] = net.encode_style(paddle.to_tensor(style))
                return net.forward_encoded(paddle.to_tensor(content), encoded['style']).numpy()

        return stylize, net.levels, net.semantics

    def _package_stylizer(self):
        """A registered package model (Magenta's arbitrary net): style vector computed once."""
        import cv2
        import paddle

        from ..image_io import read_image
        from ..zoo.packaged import build
        from ..zoo.registry import get
        from .pretrained import magenta_style

        entry = get(self.model)
        if entry.task != 'stylize':
            raise ValueError(f"--model {self.model}: a {entry.task!r} model, not 'stylize'")
        paddle.set_device(self.device)
        net = build(self.model)
        multiple = max(1, int(entry.pad_multiple))
        with paddle.no_grad():   # centre square, resized as the model's reference does
            vector = net.predictor(paddle.to_tensor(magenta_style(entry, read_image(self.style))))

        def stylize(content: np.ndarray, _style) -> np.ndarray:
            hh, ww = content.shape[2:]
            ph, pw = (-hh) % multiple, (-ww) % multiple
            if ph or pw:
                padded = cv2.copyMakeBorder(content[0].transpose(1, 2, 0), 0, ph, 0, pw,
                                            cv2.BORDER_REFLECT_101)
                content = np.ascontiguousarray(padded.transpose(2, 0, 1)[None])
            with paddle.no_grad():
                out = net.transformer(paddle.to_tensor(content), vector).numpy()
            return out[:, :, :hh, :ww]

        return stylize

    def build(self, threads: Optional[int] = None) -> _StylizeProcessor:
        from ..image_io import read_image
        from ..pyramid_sizes import min_style_side, top_level_size
        from .stylizer import resize_style

        self.check()
        blender = TemporalBlender(self.temporal) if self.temporal > 0 else None
        upscaler = None if self.upscale is None else self.upscale.build(self.device, threads)
        work_size = 0 if self.upscale is None else self.upscale.work_size
        if self.model is not None:
            processor = _StylizeProcessor(self._package_stylizer(), None, blender, upscaler,
                                          work_size)
            processor.levels = 0
            return processor
        stylize, levels, semantics = self._stylizer(threads)
        size = top_level_size(levels) if self.style_size is None else self.style_size
        style = resize_style(read_image(self.style), size, semantics)
        if min(style.shape[:2]) < min_style_side(levels):
            raise ValueError(f"--style: {self.style} is {style.shape[1]}x{style.shape[0]}; "
                             f"{levels} revision level(s) need sides >= "
                             f"{min_style_side(levels)} (use --style-size)")
        processor = _StylizeProcessor(stylize, _chw(style)[None], blender, upscaler, work_size)
        processor.levels = levels
        return processor


def video_output_path(source: str, output: str, suffix: str = '') -> str:
    """The output file: ``output`` itself if it has a video extension, else a file in that folder.

    In a folder the name is the source's stem plus ``suffix`` and its extension.
    """
    if os.path.splitext(output)[1].lower() in VIDEO_EXTENSIONS:
        return output
    stem, ext = os.path.splitext(os.path.basename(source))
    return os.path.join(output, f'{stem}{suffix}{ext}')


def run_video(source: str, output: str, spec, chunk: int = DEFAULT_CHUNK, workers: int = 1,
              resume: bool = False, codec: Optional[str] = None, crf: int = DEFAULT_CRF,
              preset: str = DEFAULT_PRESET, threads: Optional[int] = None,
              progress: bool = True) -> ChunkResult:
    """Probe ``source``, check ``spec`` and write the processed video to ``output``.

    Args:
        source (str): Input video.
        output (str): Output video file (container from its extension).
        spec: :class:`SRFrames`, :class:`StylizeFrames` or another processor spec.
        chunk, workers, resume, codec, crf, preset, threads, progress: see
            :func:`ppgan_ext.video.chunks.process_video`.

    Raises:
        FileNotFoundError / ValueError: an unreadable, truncated or
            audio-only source (one line naming it), a bad model or option.
    """
    info = probe(source)
    if hasattr(spec, 'check'):
        spec.check()
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    return process_video(info, spec, output, chunk=chunk, workers=workers, resume=resume,
                         codec=codec, crf=crf, preset=preset, threads=threads,
                         progress=progress)
