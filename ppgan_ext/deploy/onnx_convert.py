"""Paddle graph -> ONNX with paddle2onnx, the ecosystem's converter.

The graphs of this package are written so that paddle2onnx 2.1.0 converts
them: every interpolation passes its output ``size`` (a shape tensor in a
static graph), never a Python-number ``scale_factor``, whose PIR attribute
(an array of doubles) paddle2onnx refuses with "the 0th elementwise MUST be
ir::FloatAttribute" (see :mod:`ppgan_ext.pyramid`). Nothing here writes ONNX
by hand.
"""
import contextlib
import io
import os
import re
import sys
import tempfile

ONNX_OPSET = 17

__all__ = ['ONNX_OPSET', 'OnnxConversionError', 'convert_to_onnx']


class OnnxConversionError(ValueError):
    """paddle2onnx could not convert a graph."""


def _reason(log: str, error: BaseException) -> str:
    found = re.findall(r'Failed to convert PaddlePaddle model: (.*)', log)
    text = found[-1] if found else f'{type(error).__name__}: {error}'
    text = re.sub(r'\x1b\[[0-9;]*m', '', text)
    return text.strip().rstrip('.').replace('(Unimplemented) ', '')


@contextlib.contextmanager
def _captured_output():
    """Collect what Python and C++ code print to stdout/stderr (paddle2onnx's progress log)."""
    log = io.StringIO()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode='w+b') as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield log
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            log.write(sink.read().decode('utf-8', 'replace'))


def convert_to_onnx(model_file: str, params_file: str, onnx_file: str,
                    opset: int = ONNX_OPSET) -> str:
    """Convert a saved Paddle graph to ``onnx_file`` (written atomically).

    Args:
        model_file (str): ``NAME.json`` (PIR) or ``NAME.pdmodel``.
        params_file (str): ``NAME.pdiparams``.
        onnx_file (str): Destination ``.onnx`` file.
        opset (int): ONNX opset. Default: 17 (ONNX Runtime, OpenVINO and
            TensorRT 8.6+ read it).

    Returns:
        str: ``onnx_file``.

    Raises:
        OnnxConversionError: paddle2onnx is missing or fails; one line with
            its reason.
    """
    try:
        import paddle2onnx
    except ImportError:
        raise OnnxConversionError("--format onnx: the paddle2onnx package is not installed "
                                  "(pip install paddle2onnx)") from None
    from ..utils import atomic_write

    error: BaseException = RuntimeError('no model written')
    data = None
    with _captured_output() as log:
        try:
            data = paddle2onnx.export(model_file, params_file, save_file=None,
                                      opset_version=opset, auto_upgrade_opset=True,
                                      enable_onnx_checker=True, verbose=False)
        except (Exception, SystemExit) as e:  # paddle2onnx logs the cause, then exits
            error = e
    if not data:
        raise OnnxConversionError(f"paddle2onnx cannot convert {os.path.basename(model_file)}: "
                                  f"{_reason(log.getvalue(), error)}")

    from .onnx_fusions import fuse_onnx_bytes

    data = fuse_onnx_bytes(data)   # where(x > 0, x, s * x) -> LeakyRelu (fused by runtimes)

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as f:
            f.write(data)

    atomic_write(onnx_file, write)
    return onnx_file
