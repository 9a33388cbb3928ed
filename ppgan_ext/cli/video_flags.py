"""The video options of ``paddlegan infer`` and ``paddlegan stylize`` (input is a video file).

    paddlegan infer --model-dir inference_model/demo_x4 --input clip.mp4 --output clip_x4.mp4 \
        [--workers 2] [--chunk 240] [--resume] [--crf 18] [--codec libx264|mpeg4]
    paddlegan stylize --content clip.mp4 --style starry.png --load lapstyle.pdparams \
        --output clip_starry.mp4 [--temporal 0.75]

A video input (by extension, see :data:`ppgan_ext.video.io.VIDEO_EXTENSIONS`)
is handed to :func:`ppgan_ext.apps.video.run_video`; ``--output`` is the
video file, or a folder that gets one named after the input.
"""
import argparse
import os

from ..video.chunks import DEFAULT_CHUNK
from ..video.io import DEFAULT_CRF, DEFAULT_PRESET, VIDEO_EXTENSIONS


def is_video(path: str) -> bool:
    """True when ``path`` is a file with a video extension."""
    return os.path.isfile(path) and os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def add_video_arguments(parser: argparse.ArgumentParser, stylize: bool = False,
                        vsr: bool = False) -> None:
    """Add the ``video input`` option group."""
    group = parser.add_argument_group(
        'video input (' + ', '.join(VIDEO_EXTENSIONS) + '; audio copied unchanged)')
    group.add_argument('--workers', type=int, default=1, metavar='N',
                       help='chunks processed at once in separate processes (default: 1)')
    group.add_argument('--chunk', type=int, default=DEFAULT_CHUNK, metavar='FRAMES',
                       help=f'frames per chunk (default: {DEFAULT_CHUNK})')
    group.add_argument('--resume', action='store_true',
                       help='keep the finished chunks of an interrupted run (OUTPUT.parts/)')
    group.add_argument('--crf', type=int, default=DEFAULT_CRF, metavar='Q',
                       help=f'libx264 quality, lower is better (default: {DEFAULT_CRF})')
    group.add_argument('--preset', default=DEFAULT_PRESET,
                       help=f'libx264 preset (default: {DEFAULT_PRESET})')
    group.add_argument('--codec', default=None,
                       help='video encoder (default: libx264 if the av wheel has it, else mpeg4)')
    if vsr:
        from ..apps.vsr import DEFAULT_WINDOW_OVERLAP, DEFAULT_WINDOW

        group.add_argument('--window', type=int, default=DEFAULT_WINDOW, metavar='FRAMES',
                           help='recurrent video SR models (--model of task vsr): frames per '
                                f'net call, 0 = the whole clip (default: {DEFAULT_WINDOW})')
        group.add_argument('--window-overlap', type=int, default=DEFAULT_WINDOW_OVERLAP,
                           metavar='FRAMES',
                           help='context frames run on each side of a window and not kept '
                                f'(default: {DEFAULT_WINDOW_OVERLAP})')
    if stylize:
        group.add_argument('--temporal', type=float, default=0.75, metavar='W',
                           help='blend weight of the previous output warped along the motion '
                                '(0: frame by frame; default: 0.75)')


def run_video_job(args, source: str, spec, suffix: str) -> int:
    """Run ``spec`` over the video ``source``; print where the result went."""
    from ..apps.video import run_video, video_output_path

    output = video_output_path(source, args.output, suffix)
    if getattr(args, 'gt', None):
        raise ValueError("--gt scores images; it does not apply to a video input")
    if os.path.isfile(output) and not (args.overwrite or args.resume):
        from ..video.io import probe
        probe(source)   # a bad input is still reported
        print(f'kept existing {output} (use --overwrite to redo)')
        return 0
    cores = os.cpu_count() or 1
    if args.workers > 1 and cores // args.workers < 2:
        import sys
        print(f'note: --workers {args.workers} on {cores} core(s) gives each worker '
              f'{max(1, cores // args.workers)} thread(s); one process already keeps the cores '
              f'busy, so this is usually slower than --workers 1 (docs/video.md, Speed)',
              file=sys.stderr)
    result = run_video(source, output, spec, chunk=args.chunk, workers=args.workers,
                       resume=args.resume, codec=args.codec, crf=args.crf, preset=args.preset,
                       threads=getattr(args, 'threads', None))
    reused = f', reused {len(result.reused)} finished' if result.reused else ''
    print(f'wrote {output} ({result.frames_processed} frame(s) processed in '
          f'{len(result.processed)} of {result.chunks} chunk(s){reused}; {result.codec})')
    return 0
