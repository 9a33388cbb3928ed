"""Video decoding, encoding and remuxing through PyAV (FFmpeg inside the ``av`` wheel).

Frames are streamed one at a time as ``(H, W, 3)`` uint8 RGB, upright: a
rotation recorded in the file's display matrix is applied to the pixels (and
not written again). Every frame keeps its own timestamp, so variable frame
rate survives: :func:`probe` reads the presentation timestamps of all video
packets (demuxing only, no decoding), and the joined output gets exactly those
timestamps back (:func:`join_segments`). The audio stream is copied packet for
packet, never re-encoded.

Segments are encoded without B-frames, so an encoder emits one packet per
frame in display order; that is what lets :func:`join_segments` give every
packet the source frame's exact timestamp whatever the segment container's
clock.

Any file FFmpeg cannot read (missing index, truncated data, no video stream)
raises :class:`VideoError`, a ``ValueError`` whose message is one line naming
the file.
"""
import bisect
import heapq
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

VIDEO_EXTENSIONS = ('.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi')
# encoder name -> options; the first one the av wheel has is used
ENCODERS = ('libx264', 'mpeg4')
DEFAULT_CRF = 18
DEFAULT_PRESET = 'fast'

__all__ = ['VIDEO_EXTENSIONS', 'VideoError', 'VideoInfo', 'is_video_file', 'probe',
           'read_frames', 'SegmentWriter', 'join_segments', 'pick_encoder']


class VideoError(ValueError):
    """A video file that cannot be used; the message is one line naming it."""


def _av():
    try:
        import av
    except ImportError as e:   # pragma: no cover - av is in requirements.txt
        raise VideoError("video needs PyAV: pip install av (FFmpeg comes inside its wheel)") from e
    return av


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def is_video_file(path: str) -> bool:
    """True for a file whose extension is one of :data:`VIDEO_EXTENSIONS`."""
    return os.path.isfile(path) and os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


@dataclass
class VideoInfo:
    """What :func:`probe` learnt about a video file.

    Attributes:
        path (str): The file.
        width (int): Coded frame width (before rotation).
        height (int): Coded frame height (before rotation).
        rotation (int): Counter-clockwise display rotation in degrees
            (0, 90, 180 or 270), as PyAV reports it.
        time_base (Fraction): Time base of the video stream's timestamps.
        pts (list[int]): Presentation timestamps of the frames, in display order.
        durations (list[int]): Each frame's duration in ``time_base`` units.
        keyframes (list[int]): Frame indices of the keyframes.
        rate (Fraction): Average frame rate.
        codec (str): Video codec name.
        audio (str): Audio codec name, or ``''`` without audio.
        audio_packets (int): Audio packets in the file.
    """
    path: str
    width: int
    height: int
    rotation: int
    time_base: Fraction
    pts: List[int] = field(default_factory=list)
    durations: List[int] = field(default_factory=list)
    keyframes: List[int] = field(default_factory=list)
    rate: Fraction = Fraction(25)
    codec: str = ''
    audio: str = ''
    audio_packets: int = 0

    @property
    def frames(self) -> int:
        return len(self.pts)

    @property
    def display_size(self) -> Tuple[int, int]:
        """``(width, height)`` of the upright frames."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    @property
    def duration(self) -> float:
        """Seconds from the first frame's start to the last frame's end."""
        if not self.pts:
            return 0.0
        return float((self.pts[-1] + self.durations[-1] - self.pts[0]) * self.time_base)

    def frame_index(self, pts: int) -> int:
        """Index of the frame with timestamp ``pts`` (or the last one before it)."""
        return max(0, bisect.bisect_right(self.pts, pts) - 1)


def _normal_rotation(value) -> int:
    degrees = int(round(float(value or 0))) % 360
    return min((0, 90, 180, 270), key=lambda r: min(abs(r - degrees), 360 - abs(r - degrees)))


def _open(path: str):
    av = _av()
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return av.open(path)
    except (av.FFmpegError, UnicodeDecodeError, OSError) as e:
        raise VideoError(f"{path}: not a readable video ({_reason(e)})") from e


def probe(path: str) -> VideoInfo:
    """Read the stream layout and every video packet's timestamp of ``path``.

    Demuxes the whole file (cheap: no decoding) and decodes the first frame
    for its rotation.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        VideoError: unreadable, truncated, or without a video stream.
    """
    av = _av()
    container = _open(path)
    try:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ['no streams']
            raise VideoError(f"{path}: no video stream (holds {', '.join(kinds)})")
        stream = container.streams.video[0]
        if stream.time_base is None:
            raise VideoError(f"{path}: the video stream has no time base")
        audio = container.streams.audio[0] if container.streams.audio else None
        info = VideoInfo(path=path, width=stream.codec_context.width,
                         height=stream.codec_context.height, rotation=0,
                         time_base=Fraction(stream.time_base),
                         rate=Fraction(stream.average_rate or stream.guessed_rate or 25),
                         codec=stream.codec_context.name, audio=audio.codec_context.name
                         if audio is not None else '')
        entries = []   # (pts, duration, keyframe)
        wanted = [stream] + ([audio] if audio is not None else [])
        try:
            for packet in container.demux(wanted):
                if packet.size == 0:
                    continue
                if packet.stream is audio:
                    info.audio_packets += 1
                    continue
                if packet.is_discard:   # trimmed by an edit list: never shown
                    continue
                if packet.is_corrupt:
                    raise VideoError(f"{path}: corrupt video packet at "
                                     f"{float((packet.pts or 0) * info.time_base):.3f} s")
                pts = packet.pts if packet.pts is not None else packet.dts
                if pts is None:
                    raise VideoError(f"{path}: video packets without timestamps "
                                     f"(remux it into .mp4 or .mkv)")
                entries.append((pts, packet.duration or 0, packet.is_keyframe))
        except av.FFmpegError as e:
            raise VideoError(f"{path}: truncated or damaged video ({_reason(e)})") from e
        if not entries:
            raise VideoError(f"{path}: the video stream holds no frames")
        entries.sort()
        info.pts = [e[0] for e in entries]
        step = int(round(1 / (info.rate * info.time_base))) if info.rate else 1
        info.durations = [(b - a) for a, b in zip(info.pts, info.pts[1:])]
        last = entries[-1][1] or (info.durations[-1] if info.durations else step)
        info.durations.append(max(1, last))
        info.keyframes = [i for i, e in enumerate(entries) if e[2]]
        try:
            container.seek(0)
            first = next(container.decode(stream), None)
        except av.FFmpegError as e:
            raise VideoError(f"{path}: truncated or damaged video ({_reason(e)})") from e
        if first is None:
            raise VideoError(f"{path}: no video frame could be decoded")
        info.rotation = _normal_rotation(getattr(first, 'rotation', 0))
        return info
    finally:
        container.close()


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a counter-clockwise display rotation (0/90/180/270) to ``(H, W, 3)`` pixels."""
    if rotation == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, rotation // 90))


def read_frames(info: VideoInfo, start: int = 0, stop: Optional[int] = None,
                threads: Optional[int] = None) -> Iterator[Tuple[int, np.ndarray]]:
    """Decode frames ``start <= index < stop`` of ``info.path`` as ``(index, RGB uint8)``.

    Seeks to the keyframe at or before ``start`` and decodes from there, so a
    chunk costs at most one extra group of pictures. Frames come upright
    (:func:`upright`) in display order, one at a time.

    Raises:
        VideoError: the file ends before frame ``stop`` (truncated) or cannot
            be decoded.
    """
    av = _av()
    stop = info.frames if stop is None else min(stop, info.frames)
    if not 0 <= start <= stop:
        raise ValueError(f"read_frames: need 0 <= start <= stop, got {start}, {stop}")
    if start == stop:
        return
    container = _open(info.path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = 'AUTO'
        if threads:   # decoder threads (default: FFmpeg's choice, all cores)
            stream.thread_count = int(threads)
        first_pts, expect = info.pts[start], start
        if start > 0:
            container.seek(first_pts, stream=stream, backward=True, any_frame=False)
        try:
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is None or pts < first_pts:
                    continue
                index = info.frame_index(pts)
                if index < expect:   # a duplicate timestamp: keep the first
                    continue
                if index >= stop:
                    break
                rgb = frame.to_ndarray(format='rgb24')
                yield index, upright(rgb, info.rotation)
                expect = index + 1
        except av.FFmpegError as e:
            raise VideoError(f"{info.path}: truncated or damaged video at frame {expect} "
                             f"({_reason(e)})") from e
        if expect < stop:
            raise VideoError(f"{info.path}: truncated video: decoding stopped at frame "
                             f"{expect} of {info.frames}")
    finally:
        container.close()


def pick_encoder(name: Optional[str] = None) -> str:
    """The video encoder to use: ``name`` if given and present, else libx264, else mpeg4."""
    av = _av()
    names = (name,) if name else ENCODERS
    for candidate in names:
        try:
            av.codec.Codec(candidate, 'w')
            return candidate
        except Exception:   # noqa: BLE001 - av raises several types for an unknown codec
            continue
    raise VideoError(f"codec: {name!r} is not in this PyAV build (try one of "
                     f"{', '.join(ENCODERS)})")


class SegmentWriter:
    """Encode RGB frames into one segment file (Matroska), without B-frames.

    The encoder is opened on the first frame (its size is the output's).

    Args:
        path (str): The segment file to write (the caller renames it when done).
        time_base (Fraction): Timestamp unit of the frames given to :meth:`write`.
        rate (Fraction): Nominal frame rate (rate control hint).
        codec (str): Encoder name (:func:`pick_encoder`). Default: libx264 if present.
        crf (int): Constant rate factor of libx264 (0-51; lower is better).
            Default: 18 (visually lossless). mpeg4 uses ``qscale`` 2 instead.
        preset (str): libx264 preset. Default: 'fast'.
    """

    def __init__(self, path: str, time_base: Fraction, rate: Fraction, codec: Optional[str] = None,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET,
                 threads: Optional[int] = None):
        self.path = path
        self.threads = threads
        self.time_base = Fraction(time_base)
        self.rate = Fraction(rate)
        self.codec = pick_encoder(codec)
        self.crf = crf
        self.preset = preset
        self.frames = 0
        self._container = None
        self._stream = None

    def _open(self, width: int, height: int) -> None:
        av = _av()
        self._container = av.open(self.path, 'w', format='matroska')
        if self.codec == 'libx264':
            options = {'crf': str(self.crf), 'preset': self.preset, 'bf': '0',
                       'x264-params': 'bframes=0'}
        else:
            options = {'qscale': '2', 'bf': '0'}
        stream = self._container.add_stream(self.codec, rate=self.rate, options=options)
        stream.width, stream.height = width, height
        even = width % 2 == 0 and height % 2 == 0
        stream.pix_fmt = 'yuv420p' if even or self.codec != 'libx264' else 'yuv444p'
        if not even and self.codec != 'libx264':
            raise VideoError(f"{self.path}: {self.codec} cannot encode odd frame sizes "
                             f"({width}x{height})")
        stream.codec_context.time_base = self.time_base
        stream.codec_context.max_b_frames = 0
        if self.threads:   # a worker's share of the cores (the encoder's default: all of them)
            stream.codec_context.thread_count = int(self.threads)
        stream.time_base = self.time_base
        self._stream = stream

    def write(self, rgb: np.ndarray, pts: int) -> None:
        """Encode one ``(H, W, 3)`` uint8 RGB frame with timestamp ``pts`` (in ``time_base``)."""
        av = _av()
        if self._container is None:
            self._open(rgb.shape[1], rgb.shape[0])
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format='rgb24')
        frame.pts = int(pts)
        frame.time_base = self.time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and close the file (nothing happens without frames)."""
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None


def _video_packets(segments: Sequence[Tuple[str, int, int]], info: VideoInfo, out_stream):
    """Packets of the segments with the source frames' exact timestamps, in order."""
    for path, start, stop in segments:
        container = _open(path)
        try:
            index = start
            for packet in container.demux(container.streams.video[0]):
                if packet.size == 0:
                    continue
                if index >= stop:
                    raise VideoError(f"{path}: more packets than its {stop - start} frames")
                packet.pts = packet.dts = info.pts[index]
                packet.duration = info.durations[index]
                packet.time_base = info.time_base
                packet.stream = out_stream
                yield float(info.pts[index] * info.time_base), 0, packet
                index += 1
            if index != stop:
                raise VideoError(f"{path}: {index - start} packets for {stop - start} frames "
                                 f"(an unfinished segment; run again without --resume)")
        finally:
            container.close()


def _audio_packets(container, out_stream):
    stream = container.streams.audio[0]
    for packet in container.demux(stream):
        if packet.size == 0 or packet.dts is None:
            continue
        t = packet.pts if packet.pts is not None else packet.dts
        packet.stream = out_stream
        yield float(t * stream.time_base), 1, packet


def join_segments(segments: Sequence[Tuple[str, int, int]], info: VideoInfo, output: str,
                  audio: bool = True) -> int:
    """Concatenate encoded segments into ``output`` without re-encoding; copy the audio.

    Args:
        segments (list[tuple]): ``(segment file, first frame, end frame)`` in
            order, covering the frames ``0 .. info.frames`` once.
        info (VideoInfo): The source (its timestamps and audio are used).
        output (str): Destination; the container comes from its extension.
            Written as given (the caller writes to a temporary name and renames).
        audio (bool): Copy the source's first audio stream. Default: True.

    Returns:
        int: Video packets written.
    """
    av = _av()
    first = _open(segments[0][0])
    source = _open(info.path) if audio and info.audio else None
    ext = os.path.splitext(output)[1].lower().lstrip('.')
    fmt = {'m4v': 'mp4', 'mkv': 'matroska', 'webm': 'webm', 'mov': 'mov', 'avi': 'avi'}.get(ext,
                                                                                          'mp4')
    try:
        out = av.open(output, 'w', format=fmt)
        try:
            vstream = out.add_stream_from_template(first.streams.video[0])
            vstream.time_base = info.time_base
            astream = None
            if source is not None:
                astream = out.add_stream_from_template(source.streams.audio[0])
            streams = [_video_packets(segments, info, vstream)]
            if astream is not None:
                streams.append(_audio_packets(source, astream))
            count = 0
            try:
                for _, kind, packet in heapq.merge(*streams, key=lambda item: item[:2]):
                    out.mux(packet)
                    count += kind == 0
            except av.FFmpegError as e:
                raise VideoError(f"{output}: cannot mux ({_reason(e)}; try an .mkv output)") \
                    from e
        finally:
            out.close()
    finally:
        first.close()
        if source is not None:
            source.close()
    return count
