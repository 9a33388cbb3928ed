"""Video files without a system ``ffmpeg``: decoding, encoding and remuxing through PyAV.

* :mod:`.io`: probe a file, stream its frames as RGB uint8 (rotation applied),
  encode segments, join them with the source's audio copied packet for packet.
* :mod:`.chunks`: split a clip into chunks processed as separate segment files
  (in parallel processes, resumable), joined without re-encoding.
* :mod:`.temporal`: optical flow, warping, the flicker measure and the
  flow-guided blending that steadies frame-by-frame stylization.
* :mod:`.clips`: synthetic test clips (a panned and zoomed photo, moving
  shapes, a tone as audio; variable frame rate and rotation on request).
"""
