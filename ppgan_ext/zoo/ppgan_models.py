"""PaddleGAN's published pretrained weights, as registry entries.

Names, URLs, architectures and pre/post-processing are those of ppgan
2.1.0's own application predictors (``ppgan/apps/*_predictor.py``); each
entry's ``origin`` names the file and the constant it was read from. The
``pipeline`` in ``extra`` selects the pre/post-processing of
:mod:`ppgan_ext.apps.pretrained`, which reproduces the predictor's own steps:

* ``realsr`` (``RealSRPredictor``): RGB / 255 -> ``RRDBNet(3, 3, 64, 23)`` x4
  -> ``clip(x * 255, 0, 255)`` truncated to uint8;
* ``mprnet`` (``MPRPredictor``): images longer than 640 px shrunk (PIL's
  default resampling) so the long side is 640, RGB / 255, reflect-padded
  right/bottom to a multiple of 8, first of MPRNet's three outputs clipped to
  [0, 1], unpadded, ``* 255`` truncated;
* ``animegan`` (``AnimeGANPredictor``): each side below 256 raised to 256,
  else cut down to a multiple of 32 (bilinear resize), ``(x - 127.5) /
  127.5`` -> ``AnimeGenerator`` -> ``(y * 0.5 + 0.5) * 255``, bilinear back
  to the input size, brightness matched to the input (BT.601 weights)
  and truncated;
* ``lapstyle`` (``LapStylePredictor``): content and style squeezed to
  512x512, the released draft + two revision nets (``net_enc``, ``net_dec``,
  ``net_rev``, ``net_rev_2``); run by ``paddlegan stylize`` at the content's
  own size with ppgan's semantics (see :mod:`ppgan_ext.cli.stylize`).

Not registered:

* ``Photo2CartoonPredictor`` crops and aligns the face with dlib's 68-point
  landmarks (``ppgan.faceutils.dlibutils``; dlib is a C++ build with no wheel
  for this Python) and masks it with a BiSeNet face parser whose weights are a
  second download; the cartoon net (``ResnetUGATITP2CGenerator``) only ever
  sees that aligned, masked 256x256 crop, so without the two extra parts the
  output is not the predictor's.
* ``DeOldifyPredictor``'s U-Net is built by running the ResNet backbone on a
  dummy input and hooking its layer sizes (``ppgan.models.generators.hook``),
  with spectral-norm layers whose power iteration runs in ``forward``; the
  traced graph carries that state and did not export within this release.

``size_bytes`` is the float32 size of each architecture's parameters (counted
from the nets; the published files add a little pickle framing).

This module imports neither Paddle nor ppgan.
"""
from ..tiling import DEFAULT_TILE
from .registry import ModelEntry, UrlWeights, register

__all__ = ['LAPSTYLE_STYLES']

_APPS = 'ppgan 2.1.0 ppgan/apps/'
_BCE = 'https://paddlegan.bj.bcebos.com/'
_LICENCE = 'Apache-2.0 (PaddleGAN)'

register(ModelEntry(
    name='realsr-df2k-jpeg', task='sr',
    arch={'name': 'RRDBNet', 'in_nc': 3, 'out_nc': 3, 'nf': 64, 'nb': 23},
    weights=UrlWeights(_BCE + 'applications/DF2K_JPEG.pdparams'),
    licence=_LICENCE,
    origin=_APPS + 'realsr_predictor.py (REALSR_WEIGHT_URL, RRDBNet(3, 3, 64, 23))',
    reference='ppgan.apps.RealSRPredictor', scale=4, size_bytes=66_791_948,
    extra={'pipeline': 'realsr', 'tile': DEFAULT_TILE}))

# MPRPredictor's model_cfgs: task -> (file, n_feat, scale_unetfeats, scale_orsnetfeats)
_MPR = {'deblurring': ('Deblurring', 96, 48, 32, 80_508_508),
        'denoising': ('Denoising', 80, 48, 32, 62_964_316),
        'deraining': ('Deraining', 40, 20, 16, 14_549_212)}
for _task, (_file, _feat, _unet, _ors, _size) in _MPR.items():
    register(ModelEntry(
        name=f'mprnet-{_task}', task='restore',
        arch={'name': 'MPRNet', 'n_feat': _feat, 'scale_unetfeats': _unet,
              'scale_orsnetfeats': _ors},
        weights=UrlWeights(f'{_BCE}models/MPR_{_file}.pdparams'),
        licence=_LICENCE,
        origin=_APPS + f"mpr_predictor.py (model_cfgs['{_file}'])",
        reference=f"ppgan.apps.MPRPredictor(task='{_file}')", pad_multiple=8,
        size_bytes=_size,
        extra={'pipeline': 'mprnet', 'max_size': 640, 'ppgan_task': _file}))

register(ModelEntry(
    name='animeganv2-hayao', task='cartoon',
    arch={'name': 'AnimeGenerator'},
    weights=UrlWeights(_BCE + 'models/animeganv2_hayao.pdparams', state_key='netG'),
    licence=_LICENCE,
    origin=_APPS + 'animegan_predictor.py (vox_cpk_weight_url, checkpoint["netG"])',
    reference='ppgan.apps.AnimeGANPredictor', value_range=(-1.0, 1.0),
    mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5), pad_multiple=32,
    size_bytes=8_574_208,
    extra={'pipeline': 'animegan', 'min_size': 256}))

# LapStylePredictor: style -> weight URL constant. The style images are the ones
# PaddleGAN's LapStyle tutorial trains and runs each style with.
LAPSTYLE_STYLES = {
    'starrynew': ('LapStyle_starrynew_WEIGHT_URL', ('starrynew.png', 'starry_night.jpg')),
    'stars': ('LapStyle_stars_WEIGHT_URL', ('stars.png',)),
    'ocean': ('LapStyle_ocean_WEIGHT_URL', ('ocean.png',)),
    'circuit': ('LapStyle_circuit_WEIGHT_URL', ('circuit.jpg', 'circuit.png')),
}
for _style, (_const, _images) in LAPSTYLE_STYLES.items():
    register(ModelEntry(
        name=f'lapstyle-{_style}', task='stylize',
        arch={'name': 'LapStylePyramidNet', 'levels': 2},
        weights=UrlWeights(f'{_BCE}models/lapstyle_{_style}.pdparams'),
        licence=_LICENCE,
        origin=_APPS + f'lapstyle_predictor.py ({_const})',
        reference=f"ppgan.apps.LapStylePredictor(style='{_style}')",
        size_bytes=83_600_000,
        extra={'pipeline': 'lapstyle', 'style': _style, 'style_images': _images,
               'size': 512}))

# Video super-resolution (``recurrent_vsr_predictor.py``, ``edvr_predictor.py``). The
# published files hold ``{'generator': state dict}``, flow network (SPyNet) and IconVSR's
# EDVR-M feature extractor included: the generators' constructors also fetch those
# sub-nets' weights (spynet.pdparams, ...), which loading the whole file overwrites, so
# ppgan-ext builds them without that download (:func:`ppgan_ext.apps.pretrained.load_generator`).
_RECURRENT = 'recurrent_vsr_predictor.py'
_MSVSR_L = {'name': 'MSVSR', 'mid_channels': 64, 'num_init_blocks': 5, 'num_blocks': 7,
            'num_reconstruction_blocks': 5, 'only_last': False, 'use_tiny_spynet': False,
            'deform_groups': 8, 'aux_reconstruction_blocks': 2}
# name -> (arch, URL file, URL constant, predictor, float32 parameter bytes)
_VSR = {
    'basicvsr-reds': ({'name': 'BasicVSRNet', 'mid_channels': 64, 'num_blocks': 30},
                      'BasicVSR_reds_x4.pdparams', 'BasicVSR_WEIGHT_URL',
                      'BasicVSRPredictor', 25_165_268),
    'iconvsr-reds': ({'name': 'IconVSR', 'mid_channels': 64, 'num_blocks': 30, 'padding': 2,
                      'keyframe_stride': 5},
                     'IconVSR_reds_x4.pdparams', 'IconVSR_WEIGHT_URL', 'IconVSRPredictor',
                     34_779_988),
    'basicvsr++-reds': ({'name': 'BasicVSRPlusPlus', 'mid_channels': 64, 'num_blocks': 7},
                        'BasicVSR%2B%2B_reds_x4.pdparams', 'BasicVSR_PP_WEIGHT_URL',
                        'BasiVSRPlusPlusPredictor', 29_291_732),
    'pp-msvsr-reds': ({'name': 'MSVSR'}, 'PP-MSVSR_reds_x4.pdparams', 'PP_MSVSR_WEIGHT_URL',
                      'PPMSVSRPredictor', 5_814_452),
    'pp-msvsr-vimeo90k-bd': ({'name': 'MSVSR'}, 'PP-MSVSR_vimeo90k_x4.pdparams',
                             'PP_MSVSR_BD_WEIGHT_URL', 'PPMSVSRPredictor', 5_814_452),
    'pp-msvsr-l-reds': (_MSVSR_L, 'PP-MSVSR-L_reds_x4.pdparams', 'PP_MSVSR_L_WEIGHT_URL',
                        'PPMSVSRLargePredictor', 29_668_812),
}
for _name, (_arch, _file, _const, _predictor, _size) in _VSR.items():
    register(ModelEntry(
        name=_name, task='vsr', arch=_arch,
        weights=UrlWeights(f'{_BCE}models/{_file}', state_key='generator'),
        licence=_LICENCE,
        origin=_APPS + f'{_RECURRENT} ({_const}, {_predictor})',
        reference=f'ppgan.apps.{_predictor}', scale=4, size_bytes=_size,
        # IconVSR's EDVR-M refill reads 5 frames: shorter windows crash it
        extra={'pipeline': 'recurrent', 'frames': 10, 'min_size': 64,
               'min_frames': 5 if _arch['name'] == 'IconVSR' else 2}))

register(ModelEntry(
    name='edvr-l-reds', task='vsr',
    arch={'name': 'EDVRNet', 'nf': 128, 'back_RBs': 40},
    weights=UrlWeights(_BCE + 'models/EDVR_L_w_tsa_SRx4.pdparams', state_key='generator'),
    licence=_LICENCE,
    origin=_APPS + 'edvr_predictor.py (EDVR_WEIGHT_URL, EDVRNet(nf=128, back_RBs=40))',
    reference='ppgan.apps.EDVRPredictor', scale=4, size_bytes=82_535_308, pad_multiple=4,
    extra={'pipeline': 'edvr', 'frames': 5}))
