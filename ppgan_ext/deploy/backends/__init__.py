"""Predictors for exported model folders: one interface, one module per backend.

=============== ============================ ============ =========================
backend         runs                         precisions   module
=============== ============================ ============ =========================
``paddle``      ``NAME.json`` / ``.pdmodel`` fp32         :mod:`.paddle`
``onnxruntime`` ``NAME.onnx``                fp32         :mod:`.onnxruntime`
``openvino``    ``NAME.onnx``                fp32, bf16,  :mod:`.openvino`
                (int8: ``NAME.int8.onnx``)   int8
=============== ============================ ============ =========================

Every predictor is called as ``predictor(*arrays)`` with float32 NCHW arrays
in the order of ``predictor.info.inputs`` and returns the first output as a
float32 array; ``predictor.backend`` and ``predictor.precision`` say what
runs.

bf16 runs only on CPUs that compute in bf16 natively (AMX or AVX-512 BF16,
:func:`ppgan_ext.deploy.cpu.native_bf16`) and only with OpenVINO: Paddle
Inference's oneDNN bf16 mode made the 64x16 SR net slower (0.86x) and left
the LapStyle pyramid unchanged, and ONNX Runtime's CPU provider has no bf16
convolution kernels. Any other bf16 request is refused with one line.

int8 runs the graph ``paddlegan quantize`` wrote beside the fp32 one
(:mod:`ppgan_ext.deploy.quantize`), with OpenVINO only: ONNX Runtime ran the
same QDQ graphs slower than its own fp32 (``bench/int8.py``). A folder without
an int8 graph is refused with the command that makes one.

The default backend (:func:`choose_backend`) is the fastest one installed for
the folder's model kind, in the order ``bench/infer.py`` measured side by side
(2 threads, AMX Xeon, several runs):

* ``sr`` graphs: OpenVINO, ONNX Runtime, Paddle Inference. OpenVINO fp32 ran
  the SR nets 2.3-4x faster than Paddle Inference (oneDNN) and 1.8-2.3x
  faster than ONNX Runtime.
* ``stylize`` graphs (the LapStyle pyramid): ONNX Runtime, OpenVINO, Paddle
  Inference. ONNX Runtime and OpenVINO fp32 both ran it about 1.5-2.2x
  faster than Paddle Inference; ONNX Runtime was ahead in two runs of three.
* bf16: OpenVINO only. On a GPU: Paddle Inference.

A backend is only chosen when its format is in the folder (ONNX for the first
two). The README table has the numbers.
"""
import importlib
import importlib.util
import sys
from typing import Callable, List, Optional, Sequence, Union

import numpy as np

from ..model_dir import ModelInfo, read_model_dir

BACKENDS = ('paddle', 'onnxruntime', 'openvino')
PRECISIONS = ('fp32', 'bf16', 'int8')
# backend -> (module under this package, the pip package it needs)
_MODULES = {'paddle': ('paddle', 'paddlepaddle'), 'onnxruntime': ('onnxruntime', 'onnxruntime'),
            'openvino': ('openvino', 'openvino')}
# model kind -> backends, fastest first (see the module docstring); other kinds: 'sr's order
_FASTEST_FIRST = {'sr': ('openvino', 'onnxruntime', 'paddle'),
                  'stylize': ('onnxruntime', 'openvino', 'paddle')}

__all__ = ['BACKENDS', 'PRECISIONS', 'BasePredictor', 'installed_backends', 'choose_backend',
           'check_precision', 'create_predictor', 'paddle_cuda_build']


class BasePredictor:
    """What every backend's predictor offers.

    Attributes:
        backend (str): One of :data:`BACKENDS`.
        precision (str): ``'fp32'`` or ``'bf16'``.
        info (ModelInfo): The model folder.
        input_names (list[str]): Graph inputs in feed order.
        deleted_passes (list[str]): oneDNN passes removed (Paddle backend on
            CPU; empty for the others).
    """
    backend = ''
    precision = 'fp32'
    info: ModelInfo
    input_names: List[str]
    deleted_passes: Sequence[str] = ()

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _check_count(self, arrays: Sequence[np.ndarray]) -> None:
        if len(arrays) != len(self.input_names):
            raise ValueError(f'the model takes {len(self.input_names)} input(s) '
                             f'({", ".join(self.input_names)}), got {len(arrays)}')

    def describe(self) -> str:
        """``'openvino bf16'``-style label for messages."""
        return f'{self.backend} {self.precision}'


def no_onnx_error(info: ModelInfo, backend: str) -> ValueError:
    """The one-line error of an ONNX backend asked to run a folder without ``NAME.onnx``."""
    return ValueError(f"--backend {backend}: {info.model_dir} holds no ONNX graph (formats: "
                      f"{', '.join(info.formats)}); re-export it with `paddlegan export "
                      f"--format paddle,onnx` or use --backend paddle")


def _is_installed(backend: str) -> bool:
    module = {'paddle': 'paddle.inference', 'onnxruntime': 'onnxruntime',
              'openvino': 'openvino'}[backend]
    return importlib.util.find_spec(module.split('.')[0]) is not None


def paddle_cuda_build() -> bool:
    """True when the installed Paddle is compiled with CUDA; Paddle is imported only to confirm.

    A CPU-only machine (no ``paddlepaddle-gpu`` distribution installed, Paddle
    not yet imported) is answered from the package metadata, so the ONNX
    paths of the commands never import Paddle to learn that there is no GPU.
    """
    from importlib import metadata

    if 'paddle' not in sys.modules:
        try:
            metadata.distribution('paddlepaddle-gpu')
        except metadata.PackageNotFoundError:
            return False
    import paddle

    return bool(paddle.is_compiled_with_cuda())


def installed_backends() -> List[str]:
    """The backends whose Python package is installed, in :data:`BACKENDS` order."""
    return [b for b in BACKENDS if _is_installed(b)]


def choose_backend(info: ModelInfo, device: str = 'cpu', precision: str = 'fp32',
                   installed: Optional[Sequence[str]] = None) -> str:
    """The default backend for a folder: the fastest installed one that can run it.

    GPU: ``paddle``. CPU: the first backend of the kind's measured order
    (:data:`_FASTEST_FIRST`) that is installed and whose format the folder
    holds; bf16: only ``openvino``.

    Raises:
        ValueError: nothing installed can run the folder at ``precision``.
    """
    installed = installed_backends() if installed is None else list(installed)
    if device == 'gpu':
        return 'paddle'
    for backend in _FASTEST_FIRST.get(info.kind, _FASTEST_FIRST['sr']):
        needs = 'paddle' if backend == 'paddle' else 'onnx'
        if backend in installed and needs in info.formats \
                and (precision == 'fp32' or backend == 'openvino'):
            return backend
    if precision in ('bf16', 'int8'):
        raise ValueError(f"--precision {precision}: needs the openvino backend and an ONNX graph "
                         f"(folder {info.model_dir} has formats: {', '.join(info.formats)}; "
                         f"installed backends: {', '.join(installed) or 'none'})")
    raise ValueError(f"{info.key} {info.model_dir}: no installed backend runs formats "
                     f"{', '.join(info.formats)} (installed: {', '.join(installed) or 'none'})")


def check_precision(backend: str, precision: str, flags=None) -> None:
    """Refuse a precision the backend or the CPU cannot run natively (one line).

    Args:
        backend (str): One of :data:`BACKENDS`.
        precision (str): One of :data:`PRECISIONS`.
        flags (iterable[str], optional): CPU flags to judge; default: this
            machine's.

    Raises:
        ValueError: unknown precision, bf16 on a backend without a bf16 path,
            or bf16 on a CPU without AMX / AVX-512 BF16.
    """
    from ..cpu import BF16_FLAGS, native_bf16

    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == 'int8' and backend != 'openvino':
        raise ValueError(f"--precision int8: runs with --backend openvino (the {backend} "
                         f"backend has no int8 path that is faster than its fp32)")
    if precision != 'bf16':
        return
    if backend == 'paddle':
        raise ValueError("--precision bf16: the paddle backend has no bf16 path that helps "
                         "(Paddle Inference's oneDNN bf16 was slower than fp32); use "
                         "--backend openvino")
    if backend == 'onnxruntime':
        raise ValueError("--precision bf16: ONNX Runtime's CPU provider has no bf16 "
                         "convolutions; use --backend openvino")
    if not native_bf16(flags):
        raise ValueError(f"--precision bf16: this CPU has no native bf16 (none of the CPU "
                         f"flags {', '.join(BF16_FLAGS)}); use --precision fp32")


def _backend_module(backend: str):
    module, package = _MODULES[backend]
    if not _is_installed(backend):
        raise ValueError(f"--backend {backend}: the {package} package is not installed "
                         f"(pip install {package}; installed backends: "
                         f"{', '.join(installed_backends()) or 'none'})")
    return importlib.import_module(f'{__name__}.{module}')


def create_predictor(model_dir: Union[str, ModelInfo], backend: Optional[str] = None,
                     precision: str = 'fp32', device: str = 'cpu',
                     threads: Optional[int] = None, **options) -> BasePredictor:
    """A predictor for an exported folder.

    Args:
        model_dir (str or ModelInfo): Folder written by ``paddlegan export``.
        backend (str, optional): One of :data:`BACKENDS`; None or ``'auto'``:
            :func:`choose_backend`. Default: None.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'int8'`` (see module).
            Default: 'fp32'.
        device (str): ``'cpu'`` or ``'gpu'`` (Paddle backend only). Default: 'cpu'.
        threads (int, optional): CPU threads. Default:
            :func:`ppgan_ext.deploy.cpu.default_threads`.
        **options: Backend-specific keywords (Paddle: ``onednn``,
            ``shrink_memory``, ``delete_passes``).

    Raises:
        ValueError: unknown backend or precision, a backend that is not
            installed or cannot run the folder's formats, bf16 where it is
            not native.
    """
    info = model_dir if isinstance(model_dir, ModelInfo) else read_model_dir(model_dir)
    if device not in ('cpu', 'gpu'):
        raise ValueError(f"--device must be 'cpu' or 'gpu', got {device!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if backend in (None, 'auto'):
        backend = choose_backend(info, device, precision)
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of auto, {', '.join(BACKENDS)}, got {backend!r}")
    if device == 'gpu' and backend != 'paddle':
        raise ValueError(f"--device gpu: runs with --backend paddle only (got {backend}); for "
                         f"ONNX on a GPU see the README's GPU section")
    check_precision(backend, precision)
    if precision == 'int8' and info.int8_file is None:
        raise ValueError(f"--precision int8: {info.model_dir} holds no int8 graph; make one with "
                         f"`paddlegan quantize --model-dir {info.model_dir}`")
    cls: Callable[..., BasePredictor] = _backend_module(backend).PREDICTOR
    if backend == 'paddle':
        return cls(info, device=device, threads=threads, **options)
    if options:
        raise ValueError(f"--backend {backend}: options {sorted(options)} are for the paddle "
                         f"backend")
    return cls(info, precision=precision, threads=threads)
