"""LapStyle with ppgan's weights gives ppgan's output: ppgan's own classes and predictor as reference.

A checkpoint in the layout of PaddleGAN's released styles (``net_enc``,
``net_dec``, ``net_rev``, ``net_rev_2``) is built from ppgan's ``Encoder``,
``DecoderNet`` and ``RevisionNet`` with random weights scaled to give an
image-like output. ppgan's ``Encoder`` reads ``vgg_normalised.pdparams``
through ppgan's own cache lookup (``ppgan.utils.download.PPGAN_HOME``), which
points at a folder holding a random VGG file: nothing is downloaded.
"""
import contextlib
import os

import cv2
import numpy as np
import paddle
import pytest
import skimage.data

import ppgan_ext  # noqa: F401
import ppgan.utils.download as ppgan_download
from ppgan.apps import lapstyle_predictor as ppgan_app
from ppgan.models.generators import DecoderNet, Encoder, RevisionNet

from ppgan_ext.cli import main
from ppgan_ext.models.generators.lapstyle_encoder import LapStyleVGGEncoder, vgg_state_from_encoder
from ppgan_ext.models.generators.lapstyle_pyramid import LapStylePyramidNet
from ppgan_ext.weight_files import read_state_file

SIZE = 512


def _calibrate(conv, out, target_std, target_mean):
    """Rescale an output conv so that ``out`` (its current output) gets the given mean and std."""
    o = out.numpy()
    mean, std = o.mean(axis=(0, 2, 3)), o.std(axis=(0, 2, 3)) + 1e-12
    k = target_std / std
    w = conv.weight.numpy() * k[:, None, None, None]
    b = (conv.bias.numpy() - mean) * k + target_mean
    conv.weight.set_value(w.astype('float32'))
    conv.bias.set_value(b.astype('float32'))


@contextlib.contextmanager
def _ppgan_cache(folder):
    """Point ppgan's weight cache (where ``get_path_from_url`` looks first) at ``folder``."""
    saved = ppgan_download.PPGAN_HOME
    ppgan_download.PPGAN_HOME = str(folder)
    try:
        yield
    finally:
        ppgan_download.PPGAN_HOME = saved


def _random_vgg_file(path):
    """A random VGG-19 in the flat layout of ppgan's ``vgg_normalised.pdparams`` (all 16 convs)."""
    vgg = vgg_state_from_encoder(LapStyleVGGEncoder(random_init=True))
    rng = np.random.default_rng(3)
    for index in (45, 48, 51):   # relu5_2 .. relu5_4: in the file, unused by the encoder
        vgg[f'{index}.weight'] = rng.normal(0, 0.02, (512, 512, 3, 3)).astype('float32')
        vgg[f'{index}.bias'] = np.zeros(512, 'float32')
    paddle.save({k: paddle.to_tensor(v) for k, v in vgg.items()}, str(path))


@pytest.fixture(scope='module')
def released_style(tmp_path_factory):
    """(checkpoint, content png, style png, folder) of a random ppgan-layout 2-level style file."""
    root = tmp_path_factory.mktemp('ppgan_style')
    cache = root / 'ppgan_cache'
    cache.mkdir()
    paddle.seed(7)
    _random_vgg_file(cache / 'vgg_normalised.pdparams')
    content = skimage.data.astronaut()                          # 512x512 RGB
    style = cv2.resize(skimage.data.coffee(), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    content_png, style_png = str(root / 'content.png'), str(root / 'style.png')
    cv2.imwrite(content_png, content[:, :, ::-1])
    cv2.imwrite(style_png, style[:, :, ::-1])

    with _ppgan_cache(cache):   # ppgan's Encoder() finds the file there
        enc = Encoder()
    dec, rev, rev2 = DecoderNet(), RevisionNet(), RevisionNet()
    for net in (enc, dec, rev, rev2):
        net.eval()
    # scale the output convs with ppgan's own pipeline: draft ~ N(0.5, 0.2), bands ~ N(0, 0.05)
    ci, si, _, _ = ppgan_app.img_read(content_png, style_png)
    pyr_ci = ppgan_app.make_laplace_pyramid(ci, 2)
    pyr_si = ppgan_app.make_laplace_pyramid(si, 2)
    with paddle.no_grad():
        cF, sF = enc(pyr_ci[2]), enc(pyr_si[2])
        _calibrate(dec.final_conv[1], dec(cF, sF), 0.2, 0.5)
        small = dec(cF, sF)
        inp = paddle.concat([pyr_ci[1], paddle.nn.functional.interpolate(small, scale_factor=2)], 1)
        _calibrate(rev.UpBlock[-1], rev(inp), 0.05, 0.0)
        lap = rev(inp)
        first = ppgan_app.fold_laplace_pyramid([lap, small])
        inp2 = paddle.concat([pyr_ci[0], paddle.nn.functional.interpolate(first, scale_factor=2)], 1)
        _calibrate(rev2.UpBlock[-1], rev2(inp2), 0.05, 0.0)
    ckpt = str(root / 'lapstyle_random.pdparams')
    paddle.save({'net_enc': enc.state_dict(), 'net_dec': dec.state_dict(),
                 'net_rev': rev.state_dict(), 'net_rev_2': rev2.state_dict()}, ckpt)
    return ckpt, content_png, style_png, root


@pytest.fixture(scope='module')
def ppgan_output(released_style):
    """ppgan's LapStylePredictor.run on the checkpoint: its stylized.png (uint8 BGR)."""
    ckpt, content_png, style_png, root = released_style
    out_dir = str(root / 'ppgan_out')
    with _ppgan_cache(root / 'ppgan_cache'):   # its Encoder() reads the VGG file in __init__
        predictor = ppgan_app.LapStylePredictor(output=out_dir, weight_path=ckpt)
    predictor.run(content_png, style_png)
    img = cv2.imread(os.path.join(out_dir, 'LapStyle', 'stylized.png'))
    assert img is not None and img.shape == (SIZE, SIZE, 3)
    assert 20 < img.mean() < 235 and img.std() > 20   # an image, not a flat or clipped field
    return img


def _agreement(ours, ref):
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    return float((diff <= 1).mean()), int(diff.max())


def test_stylize_weights_gives_ppgan_predictor_output(released_style, ppgan_output, tmp_path):
    ckpt, content_png, style_png, _ = released_style
    out_dir = tmp_path / 'ours'
    assert main(['stylize', '--content', content_png, '--style', style_png,
                 '--weights', ckpt, '--output', str(out_dir)]) == 0
    ours = cv2.imread(str(out_dir / 'content.png'))
    within_one, worst = _agreement(ours, ppgan_output)
    assert within_one >= 0.999, (within_one, worst)
    assert worst <= 3, (within_one, worst)


def test_exact_semantics_would_not_match(released_style, ppgan_output):
    """The check above can fail: the same weights run with our exact pyramid differ visibly."""
    ckpt, content_png, style_png, _ = released_style
    state = read_state_file(ckpt)
    net = LapStylePyramidNet(2, semantics='exact')
    state['net_dec']['semantics_record'] = np.array([1], dtype='int64')
    net.load_weights(state, ckpt)
    net.eval()
    c = cv2.imread(content_png)[:, :, ::-1].transpose(2, 0, 1)[None].astype('float32') / 255
    s = cv2.imread(style_png)[:, :, ::-1].transpose(2, 0, 1)[None].astype('float32') / 255
    with paddle.no_grad():
        out = net(paddle.to_tensor(c), paddle.to_tensor(s)).numpy()[0]
    ours = (out.transpose(1, 2, 0)[:, :, ::-1] * 255 + 0.5).astype(np.uint8)
    within_one, worst = _agreement(ours, ppgan_output)
    assert within_one < 0.99 and worst > 3


def test_released_layout_loads_as_ppgan_semantics(released_style):
    ckpt = released_style[0]
    from ppgan_ext.models.generators.lapstyle_pyramid import semantics_of_checkpoint
    assert semantics_of_checkpoint(read_state_file(ckpt)) == 'ppgan'
    net = LapStylePyramidNet(2, semantics='exact')
    with pytest.raises(ValueError, match="trained with the 'ppgan' pyramid semantics"):
        net.load_weights(read_state_file(ckpt), ckpt)
