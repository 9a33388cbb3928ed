"""Synthetic video clips with sound, for tests, benchmarks and the docs' figures.

A scikit-image photo is panned and zoomed across the frame (smooth camera
motion), two shapes move over it on their own paths (independent motion and
occlusion), and a sine tone is the audio track. Everything is drawn from the
arguments and an explicit ``numpy.random.Generator``, so a clip is the same
on every run.
"""
from fractions import Fraction
from typing import Optional

import cv2
import numpy as np

from ..sample_data import sample_image

__all__ = ['scene_frame', 'write_clip', 'write_tone']

AUDIO_RATE = 44100


def scene_frame(photo: np.ndarray, t: float, width: int, height: int) -> np.ndarray:
    """One frame of the scene at time ``t`` in [0, 1]: ``(height, width, 3)`` uint8 RGB.

    Args:
        photo (ndarray): ``(H, W, 3)`` uint8 RGB source photo.
        t (float): Position along the clip, 0 (start) to 1 (end).
        width (int): Frame width.
        height (int): Frame height.
    """
    ph, pw = photo.shape[:2]
    zoom = 1.0 + 0.35 * t                          # zoom in while panning
    crop_w = min(pw, ph * width / height) / 1.4 / zoom
    crop_h = crop_w * height / width
    cx = crop_w / 2 + (pw - crop_w) * (0.2 + 0.6 * t)
    cy = crop_h / 2 + (ph - crop_h) * (0.3 + 0.3 * np.sin(np.pi * t))
    sx, sy = width / crop_w, height / crop_h
    affine = np.array([[sx, 0, width / 2 - sx * cx], [0, sy, height / 2 - sy * cy]], np.float32)
    frame = cv2.warpAffine(photo, affine, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    s = min(width, height)
    centre = (int(width * (0.15 + 0.7 * t)), int(height * (0.5 + 0.3 * np.cos(3 * t))))
    cv2.circle(frame, centre, max(2, s // 8), (230, 40, 40), -1, lineType=cv2.LINE_AA)
    box = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * max(2, s // 10)
    angle = 2 * np.pi * t
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = box @ rot.T + (width * (0.85 - 0.6 * t), height * 0.3)
    cv2.fillConvexPoly(frame, np.round(corners).astype(np.int32), (40, 60, 220),
                       lineType=cv2.LINE_AA)
    return frame


def _tone(seconds: float, freq: float = 440.0, rate: int = AUDIO_RATE) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None]


def _add_audio(container, seconds: float, codec: str):
    stream = container.add_stream(codec, rate=AUDIO_RATE)
    stream.layout = 'mono'
    return stream, _tone(seconds)


def _encode_audio(container, stream, samples: np.ndarray) -> None:
    import av

    fmt = 'fltp' if stream.codec_context.name in ('aac', 'libopus', 'mp3', 'libmp3lame') else 's16'
    step = 1024
    for k in range(0, samples.shape[1], step):
        part = np.ascontiguousarray(samples[:, k:k + step])
        if fmt == 's16':
            part = np.round(part * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(part, format=fmt, layout='mono')
        frame.sample_rate = AUDIO_RATE
        frame.pts = k
        frame.time_base = Fraction(1, AUDIO_RATE)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_clip(path: str, frames: int = 48, width: int = 96, height: int = 64, fps: int = 24,
               photo: str = 'astronaut', audio: bool = True, vfr: bool = False,
               rotation: int = 0, codec: str = 'libx264', seed: int = 0,
               audio_codec: Optional[str] = None) -> str:
    """Write a synthetic clip (panned photo, moving shapes, a 440 Hz tone).

    Args:
        path (str): Output file (.mp4, .mkv or .mov).
        frames (int): Frame count. Default: 48.
        width (int): Stored frame width (even). Default: 96.
        height (int): Stored frame height (even). Default: 64.
        fps (int): Frame rate; with ``vfr`` the mean rate. Default: 24.
        photo (str): scikit-image photo name. Default: 'astronaut'.
        audio (bool): Add the tone as an audio stream. Default: True.
        vfr (bool): Variable frame rate: each frame lasts 1, 2 or 3 ticks of
            ``1 / (2 * fps)`` s, drawn from ``seed``. Default: False.
        rotation (int): Counter-clockwise display rotation written into the
            stream (0, 90, 180, 270); the pixels are stored turned back by it,
            so the clip displays upright. Default: 0.
        codec (str): Video encoder. Default: 'libx264'.
        seed (int): Seed of the frame durations. Default: 0.
        audio_codec (str, optional): Audio encoder. Default: aac (pcm_s16le
            for .avi).

    Returns:
        str: ``path``.
    """
    import av

    if rotation not in (0, 90, 180, 270):
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got {rotation}")
    rng = np.random.default_rng(seed)
    ticks = rng.integers(1, 4, frames) if vfr else np.full(frames, 2)
    tick = Fraction(1, 2 * fps)
    starts = np.concatenate([[0], np.cumsum(ticks)[:-1]])
    seconds = float(int(ticks.sum()) * tick)
    img = sample_image(photo)
    up_w, up_h = (height, width) if rotation in (90, 270) else (width, height)
    container = av.open(path, 'w')
    try:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
        stream.codec_context.time_base = tick
        stream.time_base = tick
        if rotation:
            stream.set_display_rotation(rotation)
        if audio:
            astream, samples = _add_audio(container, seconds, audio_codec or (
                'pcm_s16le' if path.endswith('.avi') else 'aac'))
        for i in range(frames):
            shown = scene_frame(img, i / max(1, frames - 1), up_w, up_h)
            stored = np.ascontiguousarray(np.rot90(shown, -(rotation // 90)))
            frame = av.VideoFrame.from_ndarray(stored, format='rgb24')
            frame.pts = int(starts[i])
            frame.time_base = tick
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio:
            _encode_audio(container, astream, samples)
    finally:
        container.close()
    return path


def write_tone(path: str, seconds: float = 1.0) -> str:
    """An audio-only file (a 440 Hz tone), e.g. ``.m4a``/``.mp4`` with AAC."""
    import av

    container = av.open(path, 'w', format='mp4')
    try:
        stream, samples = _add_audio(container, seconds, 'aac')
        _encode_audio(container, stream, samples)
    finally:
        container.close()
    return path
