"""The models of the web app: restore (an SR model folder) and stylize (a LapStyle model).

Both run exactly the code of the command line, so a result downloaded from
the app has the pixels of

* ``paddlegan infer --model-dir SR --tile T --tile-overlap M`` for restore;
* ``paddlegan stylize --load W | --model-dir L --style STYLE
  [--upscale SR --upscale-tile T --upscale-tile-overlap M]`` for stylize
  (the content shrunk to ``max_side`` first when it is larger, as
  ``--work-size`` does).

The models are loaded once and run by one worker thread at a time
(:mod:`ppgan_ext.apps.jobs`). :meth:`PhotoModels.models` lists what is
loaded (the page shows the list); a new way to choose a model adds a field to
:class:`PhotoModelOptions` and a row to that list.
"""
import os
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..image_io import check_image_file
from ..sample_data import TEXTURES, sample_image
from ..tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from ..upscale import Upscaler, load_upscaler, resize_to_work_size, upscale_stylizer

Progress = Callable[[float, str], None]   # (fraction done in [0, 1], what is happening)


class InputError(ValueError):
    """A user-facing problem with an uploaded file or a request (shown in the page)."""


@dataclass
class PhotoModelOptions:
    """What the app serves.

    Attributes:
        sr_model (str, optional): Exported SR model folder for restore.
        lapstyle (str, optional): LapStyle weight file or exported pyramid folder,
            the name of a LapStyle style, or of an arbitrary-stylization model
            (``magenta-arbitrary``, run as ``paddlegan stylize --model`` runs it).
        upscale_model (str, optional): Exported SR folder for "stylize +
            upscale". Default: ``sr_model``.
        tile (int): Tile side of the SR models in input pixels. Default: 128.
        overlap (int): Tile overlap. Default: 16.
        max_side (int): Contents with a longer side above this are shrunk to
            it before stylizing. Default: 1024.
        device (str): ``'cpu'`` or ``'gpu'`` (GPU untested). Default: 'cpu'.
        threads (int, optional): CPU threads of Paddle Inference.
    """
    sr_model: Optional[str] = None
    lapstyle: Optional[str] = None
    upscale_model: Optional[str] = None
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    max_side: int = 1024
    device: str = 'cpu'
    threads: Optional[int] = None


def load_stylizer(path: str, device: str = 'cpu', key: str = '--lapstyle'):
    """(stylizer, revision levels) of a LapStyle weight file or exported pyramid folder.

    The pyramid is a black box ``(content, style) -> stylized`` built by
    ``paddlegan stylize``'s own loaders; their errors name ``key`` (what gave
    ``path``), not stylize's flags.
    """
    from ..apps.stylizer import build_dygraph_stylizer, build_predictor_stylizer

    if os.path.isdir(path):
        return build_predictor_stylizer(path, None, device, key=key)
    import paddle

    paddle.set_device(device)
    return build_dygraph_stylizer(path, None, key=key)


def style_sizes(levels: int) -> Tuple[int, int]:
    """(shorter side a style is resized to, smallest side accepted) for ``levels``.

    The same defaults as ``paddlegan stylize``: ``128 * 2**levels`` and
    ``2**(levels + 4)`` (:mod:`ppgan_ext.pyramid`'s size rules).
    """
    from ..pyramid import min_style_side, top_level_size

    return top_level_size(levels), min_style_side(levels)


def _arbitrary_entry(value: str):
    """The registry entry when ``value`` names an arbitrary-stylization model, else None."""
    from ..zoo import registry
    from .pretrained import is_arbitrary

    if not value or os.path.exists(value) or value not in registry.names():
        return None
    entry = registry.get(value)
    return entry if is_arbitrary(entry) else None


class PhotoModels:
    """Loaded models and the two operations of the app.

    Args:
        options (PhotoModelOptions): Model paths and tiling.

    Raises:
        ValueError / FileNotFoundError: a model cannot be loaded (names the flag).
    """

    def __init__(self, options: PhotoModelOptions):
        from .pretrained import resolve_named

        self.names = {'restore': options.sr_model, 'stylize': options.lapstyle,
                      'upscale': options.upscale_model or options.sr_model}
        # the registry entry of an arbitrary-stylization model given as --lapstyle
        self.arbitrary = _arbitrary_entry(options.lapstyle)
        options = PhotoModelOptions(**{**asdict(options),
                                       'sr_model': resolve_named(options.sr_model, '--sr-model',
                                                                 'sr'),
                                       'upscale_model': resolve_named(options.upscale_model,
                                                                      '--upscale-model', 'sr'),
                                       'lapstyle': options.lapstyle if self.arbitrary else
                                       resolve_named(options.lapstyle, '--lapstyle',
                                                     'lapstyle')})
        self.options = options
        self.restorer: Optional[Upscaler] = None
        self.upscaler: Optional[Upscaler] = None
        self.stylizer = None
        self.levels = 0
        if options.sr_model:
            self.restorer = self._upscaler(options.sr_model, '--sr-model')
        if options.upscale_model:
            self.upscaler = self._upscaler(options.upscale_model, '--upscale-model')
        else:
            self.upscaler = self.restorer
        if self.arbitrary is not None:
            from .pretrained import arbitrary_stylizer

            self.stylizer = arbitrary_stylizer(options.lapstyle, options.device)
        elif options.lapstyle:
            self.stylizer, self.levels = load_stylizer(options.lapstyle, options.device)
        if self.restorer is None and self.stylizer is None:
            raise ValueError('give --sr-model DIR, --lapstyle MODEL, or both')
        self._textures: Dict[str, np.ndarray] = {}

    def _upscaler(self, path: str, flag: str) -> Upscaler:
        if not os.path.isdir(path):
            raise FileNotFoundError(f"{flag}: not an exported model folder: {path}")
        return load_upscaler(path, None, self.options.device, self.options.tile,
                             self.options.overlap, self.options.threads, key=flag)

    def models(self) -> List[dict]:
        """The loaded models, one row each (JSON-ready): task, file or folder name, scale."""
        rows = []
        for task, model in (('restore', self.restorer), ('stylize', self.stylizer),
                            ('upscale', self.upscaler)):
            path = self.names[task]
            if model is not None:
                rows.append({'task': task, 'name': os.path.basename(os.path.normpath(path)),
                             'scale': getattr(model, 'scale', None),
                             'levels': self.levels if task == 'stylize' else None})
        return rows

    def info(self) -> dict:
        """What the page may offer (JSON-ready)."""
        size, least = style_sizes(self.levels)
        return {
            'models': self.models(),
            'restore': self.restorer is not None,
            'restore_scale': self.restorer.scale if self.restorer else None,
            'stylize': self.stylizer is not None,
            'upscale_scale': self.upscaler.scale if self.upscaler else None,
            'textures': list(TEXTURES) if self.stylizer is not None else [],
            'style_min_side': least,
            'max_side': self.options.max_side,
        }

    def texture(self, name: str) -> np.ndarray:
        """A bundled scikit-image texture as uint8 RGB (H, W, 3)."""
        if name not in TEXTURES:
            raise InputError(f"unknown texture {name!r}; choose one of {', '.join(TEXTURES)}")
        if name not in self._textures:
            self._textures[name] = sample_image(name)
        return self._textures[name]

    def check_style(self, style: np.ndarray, label: str) -> None:
        """Refuse a style image too small for the pyramid (before it is enlarged)."""
        _, least = style_sizes(self.levels)
        h, w = style.shape[:2]
        if min(h, w) < least:
            raise InputError(f"style image {label} is {w}x{h}; the style model needs sides of "
                             f"at least {least} pixels")

    def restore(self, src: str, dst: str, progress: Progress) -> Tuple[int, int]:
        """Super-resolve ``src`` into the PNG ``dst`` as ``paddlegan infer`` does; (H, W) out."""
        from ..image_io import read_input, write_png
        from ..tiling import to_uint8_hwc

        if self.restorer is None:
            raise InputError('restore is not available: the app was started without --sr-model')
        image = read_input(src, 3, 'RGB')
        out = self.restorer(image, lambda done, total: progress(done / total, 'restoring'))
        hwc = to_uint8_hwc(out)
        del out
        write_png(dst, hwc, 'RGB')
        return hwc.shape[0], hwc.shape[1]

    def stylize(self, src: str, style: np.ndarray, dst: str, upscale: bool,
                progress: Progress) -> Tuple[int, int]:
        """Stylize ``src`` with ``style`` (uint8 RGB) into ``dst`` as ``paddlegan stylize`` does.

        Returns:
            (H, W) of the result.
        """
        from ..apps.stylizer import resize_style, stylize_files, to_batch
        from ..image_io import read_image as read_rgb

        if self.stylizer is None:
            raise InputError('stylize is not available: the app was started without --lapstyle')
        if upscale and self.upscaler is None:
            raise InputError('upscale is not available: the app was started without an SR '
                             'model (--sr-model or --upscale-model)')
        if self.arbitrary is not None:   # centre square at the model's size, as stylize does
            from .pretrained import magenta_style

            style_batch = magenta_style(self.arbitrary, style)
        else:
            size, _ = style_sizes(self.levels)
            # resized for the pyramid's semantics, as `paddlegan stylize` does
            style_batch = to_batch(resize_style(style, size,
                                                getattr(self.stylizer, 'semantics', 'ppgan')))
        h, w = read_rgb(src).shape[:2]
        work = self.options.max_side if max(h, w) > self.options.max_side else 0
        progress(0.05, 'stylizing')
        stylize = self.stylizer
        if upscale:
            stylize = upscale_stylizer(
                stylize, self.upscaler, work,
                lambda done, total: progress(0.3 + 0.7 * done / total, 'upscaling'))
        elif work:
            plain = stylize

            def stylize(content: np.ndarray, style_: np.ndarray) -> np.ndarray:
                return plain(resize_to_work_size(content, work), style_)
        stylize_files([(src, dst)], style_batch, stylize, strict=True)
        return check_image_file(dst)
