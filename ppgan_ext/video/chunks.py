"""Chunked, resumable, multi-process processing of a video through a frame processor.

A clip is cut into chunks of ``chunk`` frames. Each chunk is decoded from the
keyframe before it, run through the processor frame by frame and encoded into
its own segment file in a work folder beside the output
(``OUTPUT.parts/chunk-00000.mkv`` ...); a segment appears under its final
name only when complete. When all are there they are joined without
re-encoding, the source's audio is copied in (:func:`.io.join_segments`), the
result is renamed to ``OUTPUT`` and the work folder is removed.

``resume=True`` reuses the finished segments of an interrupted run, provided
its ``manifest.json`` names the same input file (size and modification time),
processor and encoder settings; ``workers > 1`` runs chunks in that many
processes (spawned; each builds its own processor once).

Processors: a *spec* is a small picklable object with ``describe() -> dict``
(JSON, part of the manifest) and ``build(threads) -> processor``; a processor
is called as ``processor(rgb) -> rgb`` on ``(H, W, 3)`` uint8 frames in order,
has ``reset()`` (called before each chunk) and ``warmup`` (frames before a
chunk's first one that are run, not written, so a processor with memory of
past frames starts the chunk in the state it would have had). A sequence
processor (video SR nets that look at past and future frames) has instead
``context`` (frames read on both sides of the chunk) and
``stream(frames, start, stop, total)``, which takes ``(index, rgb)`` pairs
and yields ``(index, rgb)`` for the chunk's frames ``[start, stop)``.
"""
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ..utils import atomic_write
from .io import DEFAULT_CRF, DEFAULT_PRESET, SegmentWriter, VideoInfo, join_segments, pick_encoder

MANIFEST = 'manifest.json'
DEFAULT_CHUNK = 240

__all__ = ['ChunkResult', 'plan_chunks', 'work_folder', 'process_video']


@dataclass
class ChunkResult:
    """What :func:`process_video` did.

    Attributes:
        output (str): The file written.
        chunks (int): Chunks in the plan.
        processed (list[int]): Chunks run in this call.
        reused (list[int]): Finished chunks of an earlier run that were kept.
        frames_processed (int): Frames written by this call (warm-up frames
            not counted).
        codec (str): Video encoder used.
    """
    output: str
    chunks: int
    processed: List[int] = field(default_factory=list)
    reused: List[int] = field(default_factory=list)
    frames_processed: int = 0
    codec: str = ''


def plan_chunks(frames: int, chunk: int) -> List[Tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(frames)`` in chunks of ``chunk`` frames.

    A last piece shorter than a quarter chunk is merged into the one before.
    """
    if chunk < 1:
        raise ValueError(f"--chunk must be >= 1 frame, got {chunk}")
    bounds = list(range(0, frames, chunk)) + [frames]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < chunk / 4:
        del bounds[-2]
    return list(zip(bounds[:-1], bounds[1:]))


def work_folder(output: str) -> str:
    """The folder of an output's segments and manifest: ``OUTPUT.parts``."""
    return os.path.abspath(output) + '.parts'


def _segment_name(index: int) -> str:
    return f'chunk-{index:05d}.mkv'


# one processor per worker process, built on its first chunk
_BUILT: Dict[str, object] = {}
_QUEUE = None
_WORKER_THREADS = None   # in a worker process: its share of the cores (model and decoder)


def _init_worker(queue, threads: int) -> None:
    global _QUEUE, _WORKER_THREADS
    _QUEUE = queue
    _WORKER_THREADS = threads
    # before Paddle / OpenMP load in this process: share the cores between the workers
    for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ.setdefault(name, str(threads))


def _processor(spec, threads: Optional[int]):
    key = f'{type(spec).__module__}.{type(spec).__qualname__}:' + \
        json.dumps(spec.describe(), sort_keys=True)
    if key not in _BUILT:
        _BUILT.clear()
        _BUILT[key] = spec.build(threads)
    return _BUILT[key]


def run_chunk(spec, info: VideoInfo, start: int, stop: int, segment: str, encoder: dict,
              threads: Optional[int] = None,
              tick: Optional[Callable[[int], None]] = None) -> int:
    """Process frames ``[start, stop)`` of ``info`` into the segment file ``segment``.

    Written through a temporary name in the same folder and renamed when
    complete. Returns the frames written.
    """
    from .io import read_frames

    processor = _processor(spec, threads)
    processor.reset()
    tick = tick or (lambda n: _QUEUE.put(n) if _QUEUE is not None else None)
    written = 0
    if hasattr(processor, 'stream'):   # sequence models: frames around the chunk as context
        context = int(processor.context)
        frames = read_frames(info, max(0, start - context), min(info.frames, stop + context),
                             _WORKER_THREADS)
        outputs = processor.stream(frames, start, stop, info.frames)
    else:
        first = max(0, start - int(getattr(processor, 'warmup', 0)))
        outputs = ((index, processor(rgb))
                   for index, rgb in read_frames(info, first, stop, _WORKER_THREADS))

    def write(tmp: str) -> None:
        nonlocal written
        # the encoder keeps its own threads: x264's output depends on its thread count, and
        # the video must be the same whatever --workers
        writer = SegmentWriter(tmp, info.time_base, info.rate, **encoder)
        try:
            pending = 0
            for index, out in outputs:
                if index < start:
                    continue
                writer.write(out, info.pts[index])
                written += 1
                pending += 1
                if pending >= 4:
                    tick(pending)
                    pending = 0
            if pending:
                tick(pending)
        finally:
            writer.close()

    atomic_write(segment, write)
    return written


def _signature(info: VideoInfo, spec, encoder: dict, chunks: List[Tuple[int, int]]) -> dict:
    stat = os.stat(info.path)
    return {'input': os.path.abspath(info.path), 'size': stat.st_size,
            'mtime': int(stat.st_mtime), 'processor': spec.describe(), 'encoder': encoder,
            'chunks': [list(c) for c in chunks]}


def _prepare(folder: str, signature: dict, resume: bool) -> List[int]:
    """Create the work folder (fresh unless resuming); return the finished chunk indices."""
    path = os.path.join(folder, MANIFEST)
    if resume and os.path.isfile(path):
        try:
            with open(path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old != signature:
            changed = sorted(k for k in signature if old is None or old.get(k) != signature[k])
            raise ValueError(f"--resume: {folder} was made for another run ({', '.join(changed)}"
                             f" changed); run without --resume to start over")
        return [i for i in range(len(signature['chunks']))
                if os.path.isfile(os.path.join(folder, _segment_name(i)))]
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)

    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            json.dump(signature, f, indent=1)

    atomic_write(path, write)
    return []


def process_video(info: VideoInfo, spec, output: str, chunk: int = DEFAULT_CHUNK,
                  workers: int = 1, resume: bool = False, codec: Optional[str] = None,
                  crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET,
                  threads: Optional[int] = None, progress: bool = True,
                  keep_parts: bool = False) -> ChunkResult:
    """Run ``spec``'s processor over every frame of ``info`` and write ``output``.

    Args:
        info (VideoInfo): The probed source (:func:`.io.probe`).
        spec: Processor spec (see the module docstring).
        output (str): Destination video; its container comes from the extension.
        chunk (int): Frames per chunk. Default: 240.
        workers (int): Processes running chunks at once (1: in this process).
            Default: 1.
        resume (bool): Keep the finished chunks of an interrupted run. Default: False.
        codec (str, optional): Video encoder. Default: libx264 if present, else mpeg4.
        crf (int): libx264 quality (lower is better). Default: 18.
        preset (str): libx264 preset. Default: 'fast'.
        threads (int, optional): Threads per worker for the processor.
            Default: the cores shared out between the workers.
        progress (bool): Show a progress bar (frames/s and ETA) on stderr.
            Default: True.
        keep_parts (bool): Keep the work folder after joining. Default: False.

    Returns:
        ChunkResult
    """
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if os.path.abspath(output) == os.path.abspath(info.path):
        raise ValueError(f"--output {output}: would overwrite the input")
    encoder = {'codec': pick_encoder(codec), 'crf': int(crf), 'preset': preset}
    chunks = plan_chunks(info.frames, chunk)
    folder = work_folder(output)
    done = _prepare(folder, _signature(info, spec, encoder, chunks), resume)
    result = ChunkResult(output=output, chunks=len(chunks), reused=list(done),
                         codec=encoder['codec'])
    todo = [i for i in range(len(chunks)) if i not in done]
    reused_frames = sum(chunks[i][1] - chunks[i][0] for i in done)
    bar = tqdm(total=info.frames, initial=reused_frames, unit='frame', desc='video',
               disable=not progress, file=sys.stderr, dynamic_ncols=True)
    segment = {i: os.path.join(folder, _segment_name(i)) for i in range(len(chunks))}
    try:
        if workers == 1 or len(todo) <= 1:
            for i in todo:
                n = run_chunk(spec, info, *chunks[i], segment[i], encoder, threads, bar.update)
                result.processed.append(i)
                result.frames_processed += n
        else:
            _run_parallel(spec, info, chunks, todo, segment, encoder, workers, threads, bar,
                          result)
    finally:
        bar.close()
    parts = [(segment[i], *chunks[i]) for i in range(len(chunks))]
    atomic_write(output, lambda tmp: join_segments(parts, info, tmp))
    if not keep_parts:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _run_parallel(spec, info, chunks, todo, segment, encoder, workers, threads, bar,
                  result) -> None:
    import multiprocessing as mp
    # here, not at the top: a photo run of `paddlegan infer` imports this module for its
    # defaults and need not pay for the process pool's imports
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(queue, threads)) as pool:
        futures = {pool.submit(run_chunk, spec, info, *chunks[i], segment[i], encoder,
                               threads): i for i in todo}
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(queue, bar)
                for future in finished:
                    result.frames_processed += future.result()
                    result.processed.append(futures[future])
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        _drain(queue, bar)
    result.processed.sort()


def _drain(queue, bar) -> None:
    import queue as queue_module

    while True:
        try:
            bar.update(queue.get_nowait())
        except queue_module.Empty:
            return
