"""PaddleGAN's video SR models by name: our output equals ppgan's own predictors'.

What is compared: ppgan's predictor (``ppgan.apps.BasicVSRPredictor`` and
friends, ``EDVRPredictor``) is built by its own constructor with the weight
file and its own ``run(video)`` is called, with one substitution: its two
shell-outs to a system ``ffmpeg`` (``video2frames``, ``frames2video``; there
is no ``ffmpeg`` here) are replaced by writing the clip's frames, decoded by
our decoder, as the PNGs ``video2frames`` would write, and by nothing. Its
dataset, grouping (``num_frames`` frames per call, no overlap), net and
``get_img`` run as published; its ``frames_pred/*.png`` are the reference.
Ours: :class:`ppgan_ext.apps.vsr.VSRModel` created by name, the weight file
fetched from an HTTP server on 127.0.0.1, on the same decoded frames.

Sizes: the architectures as the predictors build them are checked parameter
for parameter against the registry (:func:`test_registry_archs_are_the_predictors`);
the forward comparisons run each generator class at a reduced width
(the predictor module's generator replaced by the same class with fewer
channels/blocks), so the whole file takes seconds, not minutes; one model
(PP-MSVSR, the smallest) also runs at its published size.

Nothing leaves the machine: sockets to anything but 127.0.0.1 are refused.
"""
import dataclasses
import os
import socket
from urllib.parse import unquote

import cv2
import numpy as np
import paddle
import pytest
from _helpers import serve_folder

from ppgan_ext.apps.pretrained import without_constructor_downloads
from ppgan_ext.apps.vsr import VSRModel, neighbour_indices, plan_windows
from ppgan_ext.sample_data import sample_image
from ppgan_ext.video.clips import scene_frame, write_clip
from ppgan_ext.video.io import probe, read_frames
from ppgan_ext.zoo import download as dl
from ppgan_ext.zoo import registry

PREDICTORS = {
    'basicvsr-reds': ('recurrent_vsr_predictor', 'BasicVSRPredictor', 'BasicVSRNet'),
    'iconvsr-reds': ('recurrent_vsr_predictor', 'IconVSRPredictor', 'IconVSR'),
    'basicvsr++-reds': ('recurrent_vsr_predictor', 'BasiVSRPlusPlusPredictor',
                        'BasicVSRPlusPlus'),
    'pp-msvsr-reds': ('recurrent_vsr_predictor', 'PPMSVSRPredictor', 'MSVSR'),
    'pp-msvsr-vimeo90k-bd': ('recurrent_vsr_predictor', 'PPMSVSRPredictor', 'MSVSR'),
    'pp-msvsr-l-reds': ('recurrent_vsr_predictor', 'PPMSVSRLargePredictor', 'MSVSR'),
    'edvr-l-reds': ('edvr_predictor', 'EDVRPredictor', 'EDVRNet'),
}
# reduced widths for the forward comparisons (same classes, same code paths)
SMALL = {
    'BasicVSRNet': {'mid_channels': 8, 'num_blocks': 1},
    'IconVSR': {'mid_channels': 64, 'num_blocks': 1},   # its EDVR-M refill is 64 wide
    'BasicVSRPlusPlus': {'mid_channels': 16, 'num_blocks': 1},   # 16 deformable groups
    'MSVSR': {'mid_channels': 8, 'num_init_blocks': 1, 'num_blocks': 1,
              'num_reconstruction_blocks': 1},
    'EDVRNet': {'nf': 16, 'front_RBs': 1, 'back_RBs': 1},
}


@pytest.fixture(autouse=True)
def _local_only(monkeypatch):
    """Connections to anything but 127.0.0.1 fail: a test cannot leave the machine."""
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        if address[0] not in ('127.0.0.1', 'localhost'):
            raise OSError(f'test tried to reach {address[0]}')
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, 'create_connection', create_connection)


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    with serve_folder(tmp_path_factory.mktemp('www')) as served:
        yield served


@pytest.fixture
def cache(tmp_path, monkeypatch):
    from ppgan.utils import download as ppgan_download

    monkeypatch.delenv(dl.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(ppgan_download, 'PPGAN_HOME', str(tmp_path / 'ppgan'))
    return tmp_path / 'ppgan'


def _random_generator(arch: dict, seed: int):
    """A generator of ``arch`` with random weights whose output is image-like.

    Every net ends with a residual added to the upsampled input: the convs
    that make 3-channel images are scaled down so the residual stays small.
    """
    from ppgan.models.generators.builder import build_generator

    paddle.seed(seed)
    with without_constructor_downloads():
        net = build_generator(dict(arch))
    for layer in net.sublayers():
        if isinstance(layer, paddle.nn.Conv2D) and layer.weight.shape[0] == 3:
            layer.weight.set_value(layer.weight * 0.05)
    net.eval()
    return net


def _serve(name, arch, served, monkeypatch, seed=5):
    """Random weights of ``arch`` in ppgan's layout, served under the published file name."""
    root, base = served
    entry = registry.get(name)
    file = entry.weights.file
    path = root / f'{arch["name"]}-{len(arch)}' / unquote(file)   # the server decodes %2B
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        paddle.save({'generator': _random_generator(arch, seed).state_dict()}, str(path))
    local = dataclasses.replace(entry, arch=arch, weights=dataclasses.replace(
        entry.weights, url=f'{base}/{path.parent.name}/{file}'))
    monkeypatch.setitem(registry._ENTRIES, name, local)
    return local, str(path)


def _ppgan_run(name, arch, weights, clip, frames, out_dir, monkeypatch, num_frames):
    """ppgan's predictor's own run() on ``clip``; its output frames as RGB uint8."""
    import importlib

    module_name, cls_name, gen_name = PREDICTORS[name]
    module = importlib.import_module(f'ppgan.apps.{module_name}')
    generator = getattr(module, gen_name)
    small = {k: v for k, v in arch.items() if k != 'name'}
    monkeypatch.setattr(module, gen_name,
                        lambda *a, **kw: generator(*a, **{**kw, **small}))
    png_dir = os.path.join(out_dir, 'decoded')
    os.makedirs(png_dir)
    for i, rgb in enumerate(frames):   # what video2frames writes: %08d.png from 0
        cv2.imwrite(os.path.join(png_dir, f'{i:08d}.png'), rgb[:, :, ::-1])
    monkeypatch.setattr(module, 'video2frames', lambda vid, out, **kw: png_dir)
    monkeypatch.setattr(module, 'frames2video', lambda *a, **kw: None)
    # its DataLoader reads the PNGs in 2 forked workers; forking a test process that has run
    # OpenVINO's thread pool can kill a worker, so the same loader reads them in-process
    loader = module.DataLoader
    monkeypatch.setattr(module, 'DataLoader',
                        lambda *a, **kw: loader(*a, **{**kw, 'num_workers': 0}))
    kwargs = {'num_frames': num_frames} if module_name.startswith('recurrent') else {}
    with without_constructor_downloads():   # its constructor's SPyNet / EDVR-M fetches
        predictor = getattr(module, cls_name)(output=out_dir, weight_path=weights, **kwargs)
    pattern, _ = predictor.run(clip)
    folder = os.path.dirname(pattern)
    return [cv2.imread(os.path.join(folder, f))[:, :, ::-1] for f in sorted(os.listdir(folder))]


def _agreement(ours, ref):
    a, b = np.stack(ours).astype(np.int16), np.stack(ref).astype(np.int16)
    assert a.shape == b.shape, (a.shape, b.shape)
    diff = np.abs(a - b)
    return float((diff <= 1).mean()), int(diff.max())


def _small(name):
    arch = registry.get(name).arch
    return {**arch, **SMALL[arch['name']]}


# (model, frames, side, num_frames of ppgan's predictor, arch)
CASES = [(n, 10, 64, 5, 'small') for n in PREDICTORS if n not in ('edvr-l-reds', 'iconvsr-reds')]
CASES += [('iconvsr-reds', 5, 64, 5, 'small'),   # its EDVR-M refill is 64 wide: one group
          ('edvr-l-reds', 6, 32, None, 'small'), ('pp-msvsr-reds', 4, 64, 2, 'published')]


@pytest.mark.parametrize('name,count,side,num_frames,size', CASES,
                         ids=[f'{c[0]}-{c[4]}' for c in CASES])
def test_output_equals_ppgan_predictor(name, count, side, num_frames, size, served, cache,
                                       monkeypatch, tmp_path):
    arch = _small(name) if size == 'small' else dict(registry.get(name).arch)
    entry, weights = _serve(name, arch, served, monkeypatch)
    clip = write_clip(str(tmp_path / 'clip.mp4'), frames=count, width=side, height=side,
                      photo='coffee', audio=False)
    frames = [rgb for _, rgb in read_frames(probe(clip))]
    ref = _ppgan_run(name, arch, weights, clip, frames, str(tmp_path / 'ppgan'), monkeypatch,
                     num_frames)
    assert len(ref) == count
    stack = np.stack(ref)
    assert 30 < stack.mean() < 225 and stack.std() > 20, (stack.mean(), stack.std())
    model = VSRModel.create(name, progress=False)   # fetched from 127.0.0.1 by name
    ours = model.run_clip(frames, window=num_frames or 0, overlap=0)
    within_one, worst = _agreement(ours, ref)
    print(f'parity {name} ({size}) {count}x{side}x{side}: {within_one * 100:.3f}% within 1, '
          f'max {worst}')
    assert within_one >= 0.999, (within_one, worst)
    assert open(cache / entry.weights.file, 'rb').read() == open(weights, 'rb').read()


def test_registry_archs_are_the_predictors(tmp_path):
    """Each entry's arch builds, parameter for parameter, the net ppgan's predictor builds."""
    import importlib

    from ppgan.models.generators.builder import build_generator

    for name, (module_name, cls_name, _) in PREDICTORS.items():
        entry = registry.get(name)
        path = str(tmp_path / 'empty.pdparams')   # the predictor loads it; its net is compared
        paddle.save({'generator': {'x': np.zeros(1, np.float32)}}, path)
        with without_constructor_downloads():
            ours = build_generator(dict(entry.arch)).state_dict()
            module = importlib.import_module(f'ppgan.apps.{module_name}')
            theirs = getattr(module, cls_name)(output=str(tmp_path), weight_path=path)
        state = theirs.model.state_dict()
        assert sorted(state) == sorted(ours), name
        assert all(list(state[k].shape) == list(ours[k].shape) for k in ours), name
        assert entry.size_bytes == sum(int(np.prod(v.shape)) * 4 for v in ours.values())


def test_windows_give_the_same_frames_whatever_the_chunks():
    """Frames [start, stop) of a clip come out bit-identical to the whole run's."""
    arch = _small('basicvsr-reds')
    model = VSRModel(registry.get('basicvsr-reds'), _random_generator(arch, 1))
    rgb = np.random.default_rng(0).integers(0, 255, (9, 40, 48, 3), dtype=np.uint8)
    frames = list(rgb)
    whole = model.run_clip(frames, window=5, overlap=1)
    for start, stop in ((0, 4), (4, 7), (7, 9)):
        c = model.context(5, 1)
        part = list(model.stream(((i, frames[i]) for i in range(max(0, start - c),
                                                                  min(9, stop + c))),
                                 start, stop, 9, window=5, overlap=1))
        assert [i for i, _ in part] == list(range(start, stop))
        for i, out in part:
            assert np.array_equal(out, whole[i]), (start, stop, i)
    # small frames are padded to the flow network's 64 pixels and cropped back
    assert whole[0].shape == (160, 192, 3)
    # spatial tiles (each a window through the net) blend into the whole frame's output
    big = list(np.repeat(np.repeat(rgb[:1], 2, axis=1), 2, axis=2))   # 80x96, one frame
    untiled = np.stack(model.run_clip(big)).astype(np.float64)
    tiled = np.stack(model.run_clip(big, tile=64, tile_overlap=16)).astype(np.float64)
    assert tiled.shape == untiled.shape == (1, 320, 384, 3)
    assert 10 * np.log10(255 ** 2 / np.mean((tiled - untiled) ** 2)) > 30
    with pytest.raises(ValueError, match='--tile 32'):
        model.run_clip(big, tile=32)


def test_window_plan_and_edvr_neighbours():
    plan = plan_windows(0, 10, 10, window=6, overlap=1)
    assert [p[2:] for p in plan] == [(0, 4), (4, 8), (8, 10)]
    assert plan[1][:2] == (3, 9) and plan[2][:2] == (7, 10)
    assert plan_windows(0, 12, 12, window=0, overlap=3) == [(0, 12, 0, 12)]
    assert plan_windows(0, 12, 12, window=10, overlap=0) == [(0, 10, 0, 10), (10, 12, 10, 12)]
    # ppgan's 'new_info' padding: index 0 of 10 reads [4, 3, 0, 1, 2]
    assert neighbour_indices(0, 5, 10) == [4, 3, 0, 1, 2]
    assert neighbour_indices(9, 5, 10) == [7, 8, 9, 6, 5]
    with pytest.raises(ValueError, match='--window-overlap'):
        plan_windows(0, 5, 5, window=4, overlap=2)


def _audio_packets(path):
    import av

    with av.open(path) as c:
        return sum(1 for p in c.demux(c.streams.audio[0]) if p.size)


@pytest.mark.e2e
def test_cli_infer_video_by_model_name(served, cache, monkeypatch, tmp_path, capsys):
    """`infer --model NAME` on a video: a video SR model in chunks, an image model per frame."""
    from ppgan.models.generators.builder import build_generator

    from ppgan_ext.cli import main

    entry, _ = _serve('basicvsr-reds', _small('basicvsr-reds'), served, monkeypatch)
    src = write_clip(str(tmp_path / 'a.mp4'), frames=8, width=64, height=48, photo='coffee')
    frames = [rgb for _, rgb in read_frames(probe(src))]
    out = str(tmp_path / 'a_x4.mp4')
    # chunks of 4 frames: windows of 5 with 1 of overlap (cores of 3) cross them
    assert main(['infer', '--model', 'basicvsr-reds', '--input', src, '--output', out,
                 '--chunk', '4', '--window', '5', '--window-overlap', '1']) == 0
    assert 'in 2 of 2 chunk(s)' in capsys.readouterr().out
    info = probe(out)
    assert (info.frames, info.width, info.height) == (8, 256, 192)
    assert _audio_packets(out) == _audio_packets(src)
    want = VSRModel.create('basicvsr-reds', progress=False).run_clip(frames, 5, 1)
    got = [rgb for _, rgb in read_frames(info)]
    mse = np.mean((np.stack(got).astype(np.float64) - np.stack(want)) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 35   # only the video encoder's loss
    # an image model by name on a video (formerly: "export it first")
    root, base = served
    paddle.seed(2)
    arch = {'name': 'RRDBNet', 'in_nc': 3, 'out_nc': 3, 'nf': 8, 'nb': 1}   # RealSR's, narrow
    paddle.save(build_generator(dict(arch)).state_dict(), str(root / 'DF2K_JPEG.pdparams'))
    realsr = registry.get('realsr-df2k-jpeg')
    monkeypatch.setitem(registry._ENTRIES, realsr.name, dataclasses.replace(
        realsr, arch=arch,
        weights=dataclasses.replace(realsr.weights, url=f'{base}/DF2K_JPEG.pdparams')))
    out2 = str(tmp_path / 'a_realsr.mp4')
    assert main(['infer', '--model', 'realsr-df2k-jpeg', '--input', src, '--output', out2,
                 '--backend', 'dygraph']) == 0
    info2 = probe(out2)
    assert (info2.frames, info2.width) == (8, 256)
    assert _audio_packets(out2) == _audio_packets(src)
    # a video SR model on images, or on an exported backend: one line each
    cv2.imwrite(str(tmp_path / 'p.png'), frames[0])
    assert main(['infer', '--model', 'basicvsr-reds', '--input', str(tmp_path / 'p.png'),
                 '--output', str(tmp_path / 'o')]) == 2
    assert 'a video SR model' in capsys.readouterr().err
    assert main(['infer', '--model', 'basicvsr-reds', '--input', src, '--output',
                 str(tmp_path / 'b.mp4'), '--backend', 'openvino']) == 2
    assert 'dynamic graph' in capsys.readouterr().err


def _errors(capsys):
    err = capsys.readouterr().err
    assert 'Traceback' not in err, err
    return [line for line in err.splitlines() if line.startswith('error:')]


def _write_sequence(lq_dir, gt_dir, photo, count, width, height, names):
    """A panned-and-zoomed scene at 4x size as ground truth; its bicubic /4 as the frames."""
    lq_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    for i, name in zip(range(count), names):
        hr = scene_frame(photo, i / max(1, count - 1), 4 * width, 4 * height)
        lq = cv2.resize(hr, (width, height), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(gt_dir / f'{name}.png'), hr[:, :, ::-1])
        cv2.imwrite(str(lq_dir / f'{name}.png'), lq[:, :, ::-1])


@pytest.mark.e2e
def test_cli_infer_frame_folders_scores_sequences_as_ppgan(served, cache, monkeypatch,
                                                           tmp_path, capsys):
    """`infer --model NAME --input FOLDER --gt GT`: every sequence streamed, scored per sequence."""
    from ppgan.metrics.psnr_ssim import calculate_psnr, calculate_ssim

    from ppgan_ext.cli import main

    _serve('basicvsr-reds', _small('basicvsr-reds'), served, monkeypatch)
    lq, gt, out = tmp_path / 'lq', tmp_path / 'gt', tmp_path / 'out'
    # REDS-style sub-folders; 'a' is named f1..f10 (f10 sorts after f9), 'b' zero-padded
    _write_sequence(lq / 'a', gt / 'a', sample_image('coffee'), 10, 64, 48,
                    [f'f{i}' for i in range(1, 11)])
    _write_sequence(lq / 'b', gt / 'b', sample_image('chelsea'), 4, 48, 64,
                    [f'{i:08d}' for i in range(4)])
    args = ['infer', '--model', 'basicvsr-reds', '--input', str(lq), '--output', str(out),
            '--gt', str(gt), '--window', '8', '--window-overlap', '1', '--threads', '2']
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert 'wrote 14 frame(s) of 2 sequence(s)' in printed

    model = VSRModel.create('basicvsr-reds', progress=False)
    want_rows = {}
    for seq, count in (('a', 10), ('b', 4)):
        names = sorted(os.listdir(lq / seq), key=lambda n: int(n.strip('f.png') or 0))
        frames = [cv2.imread(str(lq / seq / n))[:, :, ::-1] for n in names]
        want = model.run_clip(frames, window=8, overlap=1)
        got = [cv2.imread(str(out / seq / n))[:, :, ::-1] for n in names]
        assert len(got) == count and all(np.array_equal(g, w) for g, w in zip(got, want)), seq
        hr = [cv2.imread(str(gt / seq / n)) for n in names]   # ppgan's metrics, on BGR as read
        want_rows[seq] = (np.mean([calculate_psnr(g[:, :, ::-1], h, 0) for g, h in zip(got, hr)]),
                          np.mean([calculate_ssim(g[:, :, ::-1], h, 0) for g, h in zip(got, hr)]))
    rows = [line.split(',') for line in open(out / 'metrics.csv').read().splitlines()]
    assert rows[0] == ['sequence', 'psnr', 'ssim'] and [r[0] for r in rows[1:]] == ['a', 'b', 'mean']
    for seq, p, s in rows[1:3]:
        assert float(p) == pytest.approx(want_rows[seq][0], abs=1e-4)   # ppgan: float32
        assert float(s) == pytest.approx(want_rows[seq][1], abs=1e-4)
    assert float(rows[3][1]) == pytest.approx(np.mean([v[0] for v in want_rows.values()]))
    assert 15 < float(rows[3][1]) < 60

    # a run that lost one frame writes that frame only, identical to before
    before = (out / 'b' / '00000003.png').read_bytes()
    (out / 'b' / '00000003.png').unlink()
    assert main(args) == 0
    assert 'wrote 1 frame(s) of 2 sequence(s) to' in capsys.readouterr().out
    assert (out / 'b' / '00000003.png').read_bytes() == before

    # bad input: one line naming the file
    bad = tmp_path / 'bad'
    _write_sequence(bad, tmp_path / 'badgt', sample_image('coffee'), 3, 64, 48, ['0', '1', '2'])
    cv2.imwrite(str(bad / '2.png'), np.zeros((40, 64, 3), np.uint8))
    assert main(args[:4] + [str(bad), '--output', str(tmp_path / 'o2')]) == 2
    assert _errors(capsys) == [f"error: {bad / '2.png'}: 64x40, but the sequence's first frame is 64x48 "
                   f"(one size per sequence)"]
    (tmp_path / 'badgt' / '1.png').unlink()
    cv2.imwrite(str(bad / '2.png'), np.zeros((48, 64, 3), np.uint8))
    assert main(args[:4] + [str(bad), '--output', str(tmp_path / 'o3'), '--gt',
                            str(tmp_path / 'badgt')]) == 2
    assert _errors(capsys) == [
        f"error: --gt {tmp_path / 'badgt'}: no ground truth for {bad / '1.png'}"]
