"""Before/after frame strip of a restored video: degraded low-resolution clip -> x4 model.

    python bench/video_strip.py --model_dir demo_output/inference_model

Writes a generated 640x480 clip, degrades every frame as the demo model was
trained for (salt-and-pepper noise 5 %, 3x3 mean blur, x4 bicubic downscale:
:func:`ppgan_ext.degradations.degrade`), encodes the 160x120 result (libx264,
crf 10), runs it through ``paddlegan infer``'s video path
(:func:`ppgan_ext.apps.video.run_video`) and writes
``docs/img/video_restore_strip.jpg``: three frames, each as the degraded input
(nearest-neighbour enlarged), the model's output and the clean frame, with
PSNR against the clean frame (bicubic upscaling of the input as baseline).
"""
import argparse
import os
import sys
import tempfile
from fractions import Fraction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import ppgan_ext  # noqa: E402,F401
from ppgan_ext.apps.video import SRFrames, run_video  # noqa: E402
from ppgan_ext.degradations import degrade  # noqa: E402
from ppgan_ext.sample_data import sample_image  # noqa: E402
from ppgan_ext.video import io  # noqa: E402
from ppgan_ext.video.clips import scene_frame  # noqa: E402
from ppgan_ext.video.io import SegmentWriter  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model_dir', default=os.path.join(ROOT, 'demo_output',
                                                            'inference_model'))
    parser.add_argument('--frames', type=int, default=24)
    parser.add_argument('--photo', default='coffee')
    parser.add_argument('--output', default=os.path.join(ROOT, 'docs', 'img',
                                                         'video_restore_strip.jpg'))
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix='video_strip_')
    rng = np.random.default_rng(0)
    photo = sample_image(args.photo)
    clean = [scene_frame(photo, t / (args.frames - 1), 640, 480) for t in range(args.frames)]
    low = str(os.path.join(work, 'degraded.mkv'))
    writer = SegmentWriter(low, Fraction(1, 24), Fraction(24), crf=10)
    for i, frame in enumerate(clean):
        writer.write(degrade(frame, rng, prob=0.05, blur=3, scale=4), i)
    writer.close()
    out = os.path.join(work, 'restored.mkv')
    result = run_video(low, out, SRFrames(args.model_dir), progress=False)
    restored = [f for _, f in io.read_frames(io.probe(out))]
    inputs = [f for _, f in io.read_frames(io.probe(low))]
    picks = [0, args.frames // 2, args.frames - 1]
    rows, scores = [], []
    for t in picks:
        nearest = cv2.resize(inputs[t], (640, 480), interpolation=cv2.INTER_NEAREST)
        bicubic = cv2.resize(inputs[t], (640, 480), interpolation=cv2.INTER_CUBIC)
        scores.append((psnr(bicubic, clean[t]), psnr(restored[t], clean[t])))
        rows.append(np.concatenate([nearest, restored[t], clean[t]], 1))
    strip = np.concatenate(rows, 0)
    strip = cv2.resize(strip, (strip.shape[1] // 2, strip.shape[0] // 2),
                       interpolation=cv2.INTER_AREA)
    for r, (t, (b, o)) in enumerate(zip(picks, scores)):
        y = r * 240 + 18
        for c, text in enumerate((f'frame {t}: degraded 160x120 (bicubic {b:.1f} dB)',
                                  f'model x4 ({o:.1f} dB)', 'clean')):
            cv2.putText(strip, text, (c * 320 + 6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                        (255, 255, 255), 1, cv2.LINE_AA)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    cv2.imwrite(args.output, strip[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f'{result.frames_processed} frames; PSNR vs clean (bicubic -> model): '
          + ', '.join(f'frame {t}: {b:.2f} -> {o:.2f} dB' for t, (b, o) in zip(picks, scores)))
    print(f'strip: {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
