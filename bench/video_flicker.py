"""Flicker of video stylization: frame by frame vs flow-guided blending, and the figure.

    python bench/video_flicker.py                      # writes docs/img/video_flicker.png
    python bench/video_flicker.py --weights LAPSTYLE.pdparams --style starry.png
    python bench/video_flicker.py --model magenta-arbitrary --figure /tmp/magenta.png

Flicker is the warping error between consecutive output frames with the
motion taken from the input frames (OpenCV DIS flow, forward-backward
consistent pixels only; :mod:`ppgan_ext.video.temporal`). The clip is the
generated one of :mod:`ppgan_ext.video.clips` (a panned and zoomed photo with
two moving shapes). Without ``--weights`` the LapStyle pyramid has random
weights (``write_random_lapstyle_weights``, 2 revision levels): enough to
measure the mechanics of flicker, not a trained style. Both runs use the same
pyramid, style and style encoding; "equal style strength" is checked as the
per-frame colour statistics (channel means and standard deviations) of the
two outputs.
"""
import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import ppgan_ext  # noqa: E402,F401
from ppgan_ext.apps.video import StylizeFrames  # noqa: E402
from ppgan_ext.sample_data import sample_image, write_random_lapstyle_weights  # noqa: E402
from ppgan_ext.video import io  # noqa: E402
from ppgan_ext.video.clips import write_clip  # noqa: E402
from ppgan_ext.video.temporal import flicker_curve  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--weights', default=None, help='LapStyle weights (default: random)')
    parser.add_argument('--model', default=None,
                        help='a registered package stylize model (magenta-arbitrary) instead')
    parser.add_argument('--style', default=None, help='style image (default: skimage chelsea)')
    parser.add_argument('--frames', type=int, default=40)
    parser.add_argument('--size', default='256x192', help='frame WxH (default: 256x192)')
    parser.add_argument('--temporal', type=float, default=0.75)
    parser.add_argument('--figure', default=os.path.join(ROOT, 'docs', 'img',
                                                         'video_flicker.png'))
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split('x'))
    tmp = tempfile.mkdtemp(prefix='video_flicker_')
    weights = args.weights or write_random_lapstyle_weights(
        os.path.join(tmp, 'lapstyle_random.pdparams'), 2, width=32, std=0.02, seed=0)
    style = args.style
    if style is None:
        style = os.path.join(tmp, 'style.png')
        cv2.imwrite(style, cv2.cvtColor(sample_image('chelsea'), cv2.COLOR_RGB2BGR))
    clip = write_clip(os.path.join(tmp, 'clip.mp4'), frames=args.frames, width=width,
                      height=height, audio=False)
    frames = [f for _, f in io.read_frames(io.probe(clip))]
    outs = {}
    for weight in (0.0, args.temporal):
        if args.model:
            proc = StylizeFrames(style, model=args.model, temporal=weight).build()
        else:
            proc = StylizeFrames(style, weights=weights, temporal=weight,
                                 style_size=None if args.weights else 256).build()
        outs[weight] = [proc(f) for f in frames]
    source, plain, steady = flicker_curve(frames, frames, outs[0.0], outs[args.temporal])
    ratio = np.mean(steady) / np.mean(plain)
    a = np.stack(outs[0.0]).astype(np.float64)
    b = np.stack(outs[args.temporal]).astype(np.float64)
    dmean = np.abs(a.mean((1, 2)) - b.mean((1, 2))).max()
    dstd = np.abs(a.std((1, 2)) - b.std((1, 2))).max()
    net = args.model or ('LapStyle pyramid, random weights' if args.weights is None
                         else args.weights)
    print(f'clip: {args.frames} frames {width}x{height}; stylizer: {net}')
    print(f'flicker (grey levels, mean over frames): input {np.mean(source):.2f}, '
          f'frame by frame {np.mean(plain):.2f}, blended (w={args.temporal}) '
          f'{np.mean(steady):.2f} -> {1 / ratio:.2f}x lower')
    print(f'colour statistics, largest per-frame difference: mean {dmean:.3f}, std {dstd:.3f} '
          f'grey levels')
    figure(frames, outs[0.0], outs[args.temporal], source, plain, steady, args.temporal,
           args.figure, args.model or ('LapStyle pyramid with random weights'
                                       if args.weights is None else 'LapStyle'))
    print(f'figure: {args.figure}')
    return 0


def figure(frames, plain_out, steady_out, source, plain, steady, weight, path,
           net: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    picks = np.linspace(0, len(frames) - 1, 5).astype(int)
    rows = [('input', frames), ('frame by frame', plain_out),
            (f'flow-guided blend (w={weight})', steady_out)]
    fig = plt.figure(figsize=(11, 8.2))
    grid = fig.add_gridspec(4, len(picks), height_ratios=[1, 1, 1, 1.3])
    for r, (name, seq) in enumerate(rows):
        for c, t in enumerate(picks):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(seq[t])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f'frame {t}', fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    ax = fig.add_subplot(grid[3, :])
    xs = np.arange(1, len(frames))
    ax.plot(xs, plain, label=f'frame by frame (mean {np.mean(plain):.2f})', color='tab:red')
    ax.plot(xs, steady, label=f'blended (mean {np.mean(steady):.2f}, '
                              f'{np.mean(plain) / np.mean(steady):.1f}x lower)', color='tab:blue')
    ax.plot(xs, source, label=f'input itself (mean {np.mean(source):.2f})', color='grey',
            linestyle=':')
    ax.set_xlabel('frame')
    ax.set_ylabel('warping error (grey levels)')
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle(f'Flicker: warping error between consecutive outputs, motion from the input'
                 f' ({net})', fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    from PIL import Image
    with Image.open(path) as img:   # 256 colours: a fraction of the size, same look
        small = img.convert('RGB').quantize(256, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


if __name__ == '__main__':
    sys.exit(main())
