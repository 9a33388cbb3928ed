"""LapStyle stylizers: a trained pyramid as one call ``(content, style) -> stylized``.

:func:`build_dygraph_stylizer` runs weights in dynamic graph,
:func:`build_predictor_stylizer` an exported pyramid with the predictors of
``paddlegan infer``; :func:`stylize_files` runs either on image files and
writes PNGs atomically. ``paddlegan stylize`` and ``paddlegan serve`` both
call these, so their outputs have the same pixels.
"""
from typing import List, Optional, Tuple

import numpy as np

from ..upscale import Stylizer  # (1, 3, H, W) content, (1, 3, H', W') style -> (1, 3, H, W)


def build_dygraph_stylizer(weights: str, levels=None, key: str = '--load',
                           levels_key: str = '--levels') -> Tuple[Stylizer, int]:
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

    net = pyramid_from_weights(weights, levels, key=key, levels_key=levels_key)
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
    from ..image_io import resize_short_side

    if not size:
        return img
    if semantics == 'ppgan':
        from PIL import Image
        if img.shape[:2] == (size, size):
            return img
        return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
    return resize_short_side(img, size)


def build_predictor_stylizer(model_dir: str, levels=None, device: str = 'cpu',
                             backend: Optional[str] = None, precision: str = 'fp32',
                             key: str = '--model-dir') -> Tuple[Stylizer, int]:
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
    from ..deploy.model_dir import read_model_dir
    from ..deploy.sidecar import SIDECAR_NAME

    info = read_model_dir(model_dir, key)
    if info.kind != 'stylize':
        raise ValueError(f"{key} {model_dir}: a {info.kind!r} model; `paddlegan stylize` "
                         f"runs exported LapStyle pyramids (kind 'stylize'; run this one with "
                         f"`paddlegan infer`)")
    exported = info.sidecar.get('levels')
    if info.sidecar.get('arbitrary'):
        raise ValueError(f"{key} {model_dir}: the export of "
                         f"{info.sidecar.get('zoo_model')!r}; run it with --model "
                         f"{info.sidecar.get('zoo_model')} --backend paddle|onnxruntime|openvino")
    if len(info.inputs) != 2 or not isinstance(exported, int):
        raise ValueError(f"{key} {model_dir}: {SIDECAR_NAME} does not describe a LapStyle "
                         f"pyramid (two inputs and 'levels' expected)")
    if levels is not None and levels != exported:
        raise ValueError(f"--levels {levels}: {model_dir} holds a pyramid with {exported} "
                         f"revision level(s); --levels selects levels with --load only")
    predictor = create_predictor(info, backend, precision, device)

    def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        return predictor(content, style)

    stylize.predictor = predictor
    stylize.semantics = info.sidecar.get('semantics', 'ppgan')
    return stylize, exported


def to_batch(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 in [0, 1], the stylizers' input."""
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
        out = stylize(to_batch(content), style)[0]
        img = (np.clip(out, 0.0, 1.0).transpose(1, 2, 0)[:, :, ::-1] * 255.0 + 0.5)
        write_png(dst, img.astype(np.uint8), channel_order='BGR')
    return skipped
