"""PaddleGAN's video super-resolution models by name, run over clips of any length.

    from ppgan_ext.apps.vsr import VSRModel, VSRFrames
    model = VSRModel.create('pp-msvsr-reds')
    hr = model.run_clip(frames)          # list of (H, W, 3) uint8 -> list of (4H, 4W, 3)
    run_video('clip.mp4', 'clip_x4.mp4', VSRFrames('basicvsr-reds'))   # apps.video
    run_frame_folders(VSRFrames('basicvsr-reds'), 'REDS4/lq', 'out', gt='REDS4/gt')

Two families (``extra['pipeline']`` of the registry entry,
:mod:`ppgan_ext.zoo.ppgan_models`):

* ``recurrent`` (BasicVSR, IconVSR, BasicVSR++, PP-MSVSR, PP-MSVSR-L): the
  net takes a whole sequence ``(1, T, 3, H, W)`` in [0, 1] and propagates
  features through it both ways, so one call's memory grows with ``T``.
  ppgan's predictor cuts the clip into groups of 10 frames run independently
  (no overlap). Here a clip runs in *windows*: the frames are cut into cores
  of ``window - 2 * overlap`` frames on a fixed grid (multiples of the core
  length from the clip's first frame), each core runs with ``overlap`` frames
  of context on both sides (fewer at the clip's ends) and only the core's
  outputs are kept. Memory is that of one window whatever the clip's length,
  and the result does not depend on how the video is split into chunks or
  worker processes. ``overlap=0, window=10`` is exactly ppgan's grouping.
* ``edvr`` (EDVR-L): each output frame from five input frames, its
  neighbours; past the clip's ends the neighbours are mirrored about the
  frame as ppgan's ``get_test_neighbor_frames(padding='new_info')`` does.
  A sliding window: exact whatever the chunking.

Frames are ``(H, W, 3)`` uint8 RGB; outputs are the net's output clipped to
[0, 1], times 255, rounded (ppgan's ``get_img``). Frames smaller than the
nets accept (64 pixels a side for the recurrent nets' flow networks;
EDVR sides a multiple of 4) are padded and the output cropped back. Frames
can also run in spatial tiles (``tile``), each tile a window of its own
through the net, blended as :func:`ppgan_ext.tiling.tiled_apply` does.
"""
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..tiling import DEFAULT_OVERLAP
from ..zoo import registry

__all__ = ['DEFAULT_WINDOW', 'DEFAULT_WINDOW_OVERLAP', 'neighbour_indices', 'plan_windows',
           'VSRModel', 'VSRFrames', 'find_sequences', 'FramesResult', 'run_frame_folders']

DEFAULT_WINDOW = 16
DEFAULT_WINDOW_OVERLAP = 2


def neighbour_indices(center: int, count: int, total: int) -> List[int]:
    """The frames EDVR reads for frame ``center`` of a clip of ``total`` frames.

    ``count`` frames centred on ``center``; an index before the first frame
    is replaced by the frame as far after the window's last one, an index past
    the last frame by the frame as far before the window's first one (ppgan's
    ``'new_info'`` padding), clamped into the clip for clips shorter than
    ``count``.

    Args:
        center (int): The output frame, ``0 <= center < total``.
        count (int): Frames per window (odd).
        total (int): Frames in the clip.

    Returns:
        list[int]: ``count`` frame indices.
    """
    half = count // 2
    last = total - 1
    out = []
    for i in range(center - half, center + half + 1):
        if i < 0:
            i = center + half - i
        elif i > last:
            i = center - half - (i - last)
        out.append(min(max(i, 0), last))
    return out


def plan_windows(start: int, stop: int, total: int, window: int,
                 overlap: int) -> List[Tuple[int, int, int, int]]:
    """The recurrent windows that produce frames ``[start, stop)`` of a ``total``-frame clip.

    Args:
        start (int): First frame wanted.
        stop (int): One past the last frame wanted.
        total (int): Frames in the clip.
        window (int): Frames per net call (0: the whole clip in one call).
        overlap (int): Context frames on each side of a core,
            ``0 <= 2 * overlap < window``.

    Returns:
        list[tuple]: ``(first, last, keep_from, keep_to)``: frames
        ``[first, last)`` go through the net, outputs ``[keep_from, keep_to)``
        are kept; cores lie on a grid of ``window - 2 * overlap`` frames from
        frame 0.
    """
    if window <= 0:
        window, overlap = max(total, 1), 0
    core = window - 2 * overlap
    if core < 1:
        raise ValueError(f"--window-overlap {overlap}: must be below half of --window "
                         f"{window}")
    plan = []
    for c0 in range(start - start % core, stop, core):
        c1 = min(c0 + core, total)
        plan.append((max(0, c0 - overlap), min(total, c1 + overlap), max(c0, start),
                     min(c1, stop)))
    return plan


def _pad_to(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad the last two axes of ``x`` at the bottom/right to ``height`` x ``width``."""
    ph, pw = height - x.shape[-2], width - x.shape[-1]
    if ph <= 0 and pw <= 0:
        return x
    pads = [(0, 0)] * (x.ndim - 2) + [(0, max(ph, 0)), (0, max(pw, 0))]
    mode = 'reflect' if ph < x.shape[-2] and pw < x.shape[-1] else 'edge'
    return np.pad(x, pads, mode=mode)


class VSRModel:
    """A named video SR model (registry task ``'vsr'``) on Paddle's dynamic graph.

    Args:
        entry (ModelEntry): The model.
        net (paddle.nn.Layer): Its generator, weights loaded, in eval mode.
    """

    def __init__(self, entry: registry.ModelEntry, net):
        self.entry, self.net = entry, net
        self.pipeline = entry.extra['pipeline']
        self.scale = int(entry.scale)
        self.frames = int(entry.extra.get('frames', 5))
        self.min_size = int(entry.extra.get('min_size', 1))
        self.multiple = max(1, int(entry.pad_multiple))
        self.min_frames = int(entry.extra.get('min_frames', 2))

    @classmethod
    def create(cls, name: str, weights_path: Optional[str] = None, device: str = 'cpu',
               progress: bool = True) -> 'VSRModel':
        """Fetch (once) and load model ``name``.

        Raises:
            ValueError: ``name`` is not a video SR model.
        """
        import paddle

        from .pretrained import ensure_weights, load_generator

        entry = registry.get(name)
        if entry.task != 'vsr':
            raise ValueError(f"model {name}: a {entry.task!r} model, not a video SR ('vsr') "
                             f"one ({', '.join(registry.names('vsr'))})")
        weights_path = weights_path or ensure_weights(entry, progress)
        paddle.set_device(device)
        return cls(entry, load_generator(entry, weights_path))

    # ---------------------------------------------------------------- the net
    def forward(self, x: np.ndarray) -> np.ndarray:
        """The net on a batch of one, padding small frames.

        Args:
            x (ndarray): ``(1, T*3, h, w)`` float32 in [0, 1] (frames stacked on
                the channel axis, so :func:`ppgan_ext.tiling.tiled_apply` can tile it).

        Returns:
            ndarray: Recurrent: ``(1, T*3, s*h, s*w)``; EDVR (``T`` = 5): the
            centre frame's ``(1, 3, s*h, s*w)``; float32, not clipped.
        """
        import paddle

        _, channels, h, w = x.shape
        ph = max(self.min_size, h + (-h % self.multiple))
        pw = max(self.min_size, w + (-w % self.multiple))
        seq = _pad_to(x.reshape(1, channels // 3, 3, h, w), ph, pw)
        with paddle.no_grad():
            out = self.net(paddle.to_tensor(np.ascontiguousarray(seq, np.float32)))
            if isinstance(out, (list, tuple)):   # MSVSR: auxiliary outputs first
                out = out[-1]
            out = out.numpy()
        s = self.scale
        out = out[..., :s * h, :s * w]
        return out.reshape(1, -1, s * h, s * w)

    def _run(self, stack: np.ndarray, tile: int, tile_overlap: int) -> np.ndarray:
        """``(T*3, H, W)`` float32 -> the net's output ``(C', sH, sW)``, tiled if asked."""
        from ..tiling import tiled_apply

        if tile and tile < self.min_size:
            raise ValueError(f"--tile {tile}: {self.entry.name} needs tiles of at least "
                             f"{self.min_size} pixels")
        return tiled_apply(self.forward, stack, self.scale, tile, tile_overlap)

    @staticmethod
    def _stack(frames: Sequence[np.ndarray]) -> np.ndarray:
        chw = [np.asarray(f, np.float32).transpose(2, 0, 1) / 255.0 for f in frames]
        return np.concatenate(chw, axis=0)

    @staticmethod
    def _to_uint8(chw: np.ndarray) -> np.ndarray:
        """ppgan's ``get_img``: clip to [0, 1], times 255, rounded (half to even)."""
        return np.round(np.clip(chw, 0.0, 1.0) * 255).astype(np.uint8).transpose(1, 2, 0)

    # ---------------------------------------------------------------- clips
    def run_clip(self, frames: Sequence[np.ndarray], window: int = 0,
                 overlap: int = 0, tile: int = 0, tile_overlap: int = DEFAULT_OVERLAP) -> List[np.ndarray]:
        """Super-resolve a whole clip held in memory.

        Args:
            frames (list[ndarray]): ``(H, W, 3)`` uint8 RGB frames, one size.
            window (int): Recurrent models: frames per net call (0: all at
                once). Default: 0.
            overlap (int): Recurrent models: context frames each side of a
                window's core. Default: 0.
            tile (int): Spatial tile side in input pixels (0: whole frames).
            tile_overlap (int): Spatial tile overlap. Default: 16.

        Returns:
            list[ndarray]: ``(sH, sW, 3)`` uint8 RGB frames.
        """
        return [out for _, out in self.stream(enumerate(frames), 0, len(frames), len(frames),
                                              window, overlap, tile, tile_overlap)]

    def context(self, window: int, overlap: int) -> int:
        """Frames before ``start`` / after ``stop`` that :meth:`stream` may read."""
        if self.pipeline == 'edvr':   # 'new_info' at the clip's end reaches 4 frames back
            return self.frames - 1
        if window <= 0:
            return 1 << 30
        return window - overlap - 1

    def stream(self, frames: Iterable[Tuple[int, np.ndarray]], start: int, stop: int,
               total: int, window: int = DEFAULT_WINDOW, overlap: int = DEFAULT_WINDOW_OVERLAP,
               tile: int = 0, tile_overlap: int = DEFAULT_OVERLAP) -> Iterator[Tuple[int, np.ndarray]]:
        """Outputs of frames ``[start, stop)`` of a ``total``-frame clip, in order.

        Args:
            frames (iterable): ``(index, rgb)`` in increasing index order,
                covering at least ``[start - c, stop + c)`` clipped to the clip
                (``c`` = :meth:`context`); frames outside are ignored.
            start, stop (int): The frames wanted.
            total (int): Frames in the whole clip (where its ends are).
            window, overlap, tile, tile_overlap: See :meth:`run_clip`.

        Yields:
            tuple: ``(index, (sH, sW, 3) uint8 RGB)``.
        """
        buffer = {}
        source = iter(frames)

        def need(upto: int) -> None:   # read until frame upto - 1 is buffered
            while upto - 1 not in buffer:
                try:
                    index, rgb = next(source)
                except StopIteration:
                    missing = min(set(range(upto)) - set(buffer)) if buffer else 0
                    raise ValueError(f'video SR: frame {missing} of {total} never arrived') \
                        from None
                buffer[index] = rgb

        def drop(below: int) -> None:
            for index in [i for i in buffer if i < below]:
                del buffer[index]

        if self.pipeline == 'edvr':
            for center in range(start, stop):
                picks = neighbour_indices(center, self.frames, total)
                need(max(picks) + 1)
                drop(min(picks))   # never decreases from one centre to the next
                out = self._run(self._stack([buffer[i] for i in picks]), tile, tile_overlap)
                yield center, self._to_uint8(out)
            return
        for first, last, keep_from, keep_to in plan_windows(start, stop, total, window,
                                                            overlap):
            need(last)
            drop(first)
            seq = [buffer[i] for i in range(first, last)]
            while len(seq) < self.min_frames:   # flow nets need 2 frames, IconVSR 5: mirror
                seq = seq + seq[-2::-1] if len(seq) > 1 else seq * 2
            out = self._run(self._stack(seq), tile, tile_overlap)
            for index in range(keep_from, keep_to):
                k = index - first
                yield index, self._to_uint8(out[3 * k:3 * k + 3])


class _VSRProcessor:
    """A chunk processor (:mod:`ppgan_ext.video.chunks`) that takes whole frame sequences."""
    warmup = 0

    def __init__(self, model: VSRModel, spec: 'VSRFrames'):
        self.model, self.spec = model, spec
        self.context = model.context(spec.window, spec.overlap)
        self.backend, self.precision = 'dygraph', 'fp32'

    def reset(self) -> None:
        pass

    def stream(self, frames, start: int, stop: int, total: int):
        s = self.spec
        return self.model.stream(frames, start, stop, total, s.window, s.overlap, s.tile,
                                 s.tile_overlap)


@dataclass(frozen=True)
class VSRFrames:
    """A video through a named video SR model (processor spec of :func:`apps.video.run_video`).

    Args:
        model (str): A registered ``'vsr'`` model (``paddlegan list --models``).
        window (int): Recurrent models: frames per net call (0: the whole
            clip at once, memory growing with it). Default: 16.
        overlap (int): Recurrent models: context frames each side of a
            window's core. Default: 2.
        tile (int): Spatial tile side in input pixels (0: whole frames). Default: 0.
        tile_overlap (int): Spatial tile overlap in input pixels. Default: 16.
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        weights (str, optional): A weight file to use instead of fetching.
    """
    model: str
    window: int = DEFAULT_WINDOW
    overlap: int = DEFAULT_WINDOW_OVERLAP
    tile: int = 0
    tile_overlap: int = DEFAULT_OVERLAP
    device: str = 'cpu'
    weights: Optional[str] = None

    def describe(self) -> dict:
        d = {'kind': 'vsr', **asdict(self)}
        if d['weights']:
            d['weights'] = os.path.abspath(d['weights'])
        return d

    def check(self) -> registry.ModelEntry:
        """The entry; the weights fetched now (not in each worker). ValueError on bad options."""
        from .pretrained import ensure_weights

        entry = registry.get(self.model)
        if entry.task != 'vsr':
            raise ValueError(f"--model {self.model}: a {entry.task!r} model, not 'vsr'")
        if self.window < 0 or (self.window and not 0 <= 2 * self.overlap < self.window):
            raise ValueError(f"--window {self.window} / --window-overlap {self.overlap}: need "
                             f"window >= 0 and 0 <= 2 * overlap < window")
        if self.tile < 0 or (self.tile and not 0 <= self.tile_overlap < self.tile):
            raise ValueError(f"--tile {self.tile} / --tile-overlap {self.tile_overlap}: need "
                             f"tile >= 0 and 0 <= overlap < tile")
        if self.weights is None:
            ensure_weights(entry)
        return entry

    def build(self, threads: Optional[int] = None) -> _VSRProcessor:
        if threads:
            _set_threads(threads)
        return _VSRProcessor(VSRModel.create(self.model, self.weights, self.device, False),
                             self)


def _set_threads(threads: int) -> None:
    """Paddle's CPU math threads (the dynamic graph reads them per op)."""
    import paddle

    setter = getattr(paddle, 'set_num_threads', None) or \
        getattr(getattr(paddle, 'base', None) and paddle.base.core, 'set_num_threads', None)
    if setter is not None:
        setter(int(threads))


# -------------------------------------------------------------------- folders of frames
def _natural_key(path: str) -> list:
    """``frame2.png`` before ``frame10.png``; zero-padded names sort as they are."""
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', os.path.basename(path))]


def find_sequences(folder: str) -> List[Tuple[str, List[str]]]:
    """The frame sequences under ``folder``: ``[(name, frame paths in order)]``.

    Frames directly in ``folder`` are one sequence (name ``''``); otherwise
    each sub-folder holding frames is one (PaddleGAN's VSR test sets,
    ``REDS4/000/00000000.png``). Frames sort by name, numbers by value.

    Raises:
        FileNotFoundError / ValueError: naming ``--input``: no such folder, no frames.
    """
    from ..utils import IMG_EXTENSIONS, missing_path_message, scan_images

    if not os.path.isdir(folder):
        raise FileNotFoundError(missing_path_message(folder, '--input'))
    frames = scan_images(folder, recursive=False)
    if frames:
        return [('', sorted(frames, key=_natural_key))]
    found = []
    for name in sorted(os.listdir(folder)):
        sub = os.path.join(folder, name)
        if not name.startswith('.') and os.path.isdir(sub):
            frames = scan_images(sub, recursive=False)
            if frames:
                found.append((name, sorted(frames, key=_natural_key)))
    if not found:
        raise ValueError(f"--input {folder}: no frames ({', '.join(IMG_EXTENSIONS)}) in it or "
                         f"in its sub-folders (one sub-folder per sequence)")
    return found


@dataclass
class FramesResult:
    """What :func:`run_frame_folders` did; ``rows``: one per scored sequence."""
    outputs: List[str] = field(default_factory=list)
    reused: List[str] = field(default_factory=list)
    rows: List[dict] = field(default_factory=list)
    sequences: int = 0


def _read_frames(paths: Sequence[str]) -> Iterator[Tuple[int, np.ndarray]]:
    """``(index, RGB)`` of each frame; every frame the first one's size."""
    from ..image_io import read_image

    size = None
    for index, path in enumerate(paths):
        rgb = read_image(path)
        size = size or rgb.shape[:2]
        if rgb.shape[:2] != size:
            raise ValueError(f"{path}: {rgb.shape[1]}x{rgb.shape[0]}, but the sequence's first "
                             f"frame is {size[1]}x{size[0]} (one size per sequence)")
        yield index, rgb


def run_frame_folders(spec: VSRFrames, source: str, output: str, gt: Optional[str] = None,
                      crop_border: int = 0, y_channel: bool = False, overwrite: bool = False,
                      threads: Optional[int] = None,
                      on_frame: Optional[Callable[[], None]] = None) -> FramesResult:
    """Super-resolve folders of frames with a video SR model; score against GT frames if given.

    Each sequence (:func:`find_sequences`) streams through the model in
    ``spec``'s windows, so memory is one window's whatever the sequence's
    length. Outputs are PNGs with the frames' names under ``output`` (one
    sub-folder per sequence, as in ``source``), written atomically. A
    sequence whose outputs all exist is kept (unless ``overwrite``); one that
    is partly done runs again and writes only what is missing. With ``gt``
    (the same layout and names, any image extension) each sequence gets the
    mean PSNR/SSIM of its frames (ppgan's VSR metrics, ``is_seq``); the
    mean over sequences is ppgan's figure.

    Args:
        spec (VSRFrames): The model, windows and tiles.
        source (str): A folder of frames, or of sequence sub-folders.
        output (str): Output folder.
        gt (str, optional): Ground-truth folder. Default: None.
        crop_border (int): Border excluded from PSNR/SSIM. Default: 0
            (ppgan's VSR configs).
        y_channel (bool): Score the BT.601 luma. Default: False.
        overwrite (bool): Recompute outputs that exist. Default: False.
        threads (int, optional): Paddle's CPU threads. Default: Paddle's.
        on_frame (callable, optional): Called once per frame done (progress).

    Returns:
        FramesResult

    Raises:
        FileNotFoundError / ValueError: naming the flag or file at fault.
    """
    from ..degradations import crop_gt_to_output
    from ..deploy.metrics import image_metrics
    from ..image_io import read_uint8_rgb, write_png
    from ..utils import missing_path_message, remove_stale_temp_files
    from .infer import find_gt

    if gt is not None and not os.path.isdir(gt):
        raise FileNotFoundError(missing_path_message(gt, '--gt') if not os.path.exists(gt)
                                else f"--gt {gt}: give the folder of ground-truth frames")
    if os.path.realpath(output) == os.path.realpath(source):
        raise ValueError(f"--output {output}: the frames' own folder (outputs would replace them)")
    sequences = find_sequences(source)
    scale = int(spec.check().scale)
    remove_stale_temp_files(output)   # partial files of a killed run
    processor = None
    result = FramesResult(sequences=len(sequences))
    for name, frames in sequences:
        targets = [os.path.join(output, name, os.path.splitext(os.path.basename(f))[0] + '.png')
                   for f in frames]
        todo = [overwrite or not os.path.isfile(t) for t in targets]
        if any(todo):
            if processor is None:
                processor = spec.build(threads)
            for index, hr in processor.stream(_read_frames(frames), 0, len(frames),
                                              len(frames)):
                if todo[index]:
                    write_png(targets[index], hr)
                    result.outputs.append(targets[index])
                if on_frame is not None:
                    on_frame()
        elif on_frame is not None:
            for _ in frames:
                on_frame()
        result.reused += [t for t, redo in zip(targets, todo) if not redo]
        if gt is None:
            continue
        scores = []
        for src, dst in zip(frames, targets):
            gt_path = find_gt(gt, src, source)
            if gt_path is None:
                raise ValueError(f"--gt {gt}: no ground truth for {src}")
            out_img = read_uint8_rgb(dst)
            gt_img = crop_gt_to_output(read_uint8_rgb(gt_path), out_img.shape, scale)
            try:
                scores.append(image_metrics(out_img, gt_img, crop_border, y_channel))
            except ValueError as e:
                raise ValueError(f"{dst}: output {e} {gt_path}") from None
        result.rows.append({'sequence': name or os.path.basename(os.path.normpath(source)),
                            'psnr': float(np.mean([p for p, _ in scores])),
                            'ssim': float(np.mean([q for _, q in scores])),
                            'frames': len(scores)})
    return result

