"""What the CPU offers: math threads, native bfloat16 and int8 dot-product support.

Native bf16 means instructions that compute in bf16: ``avx512_bf16``
(AVX-512 BF16 dot products, Cooper Lake and later) or ``amx_bf16`` (AMX tile
matrix multiply, Sapphire Rapids and later). Without them a bf16 request
would run emulated and slower than fp32, so the backends refuse it. Native
int8 dot products: ``amx_int8`` (AMX), ``avx512_vnni`` or ``avx_vnni``; the
int8 graphs of ``paddlegan quantize`` run everywhere, fast where these are.
Detected from ``/proc/cpuinfo`` on Linux; never assumed.
"""
import os
from typing import FrozenSet, Iterable, Optional

BF16_FLAGS = ('amx_bf16', 'avx512_bf16')
INT8_FLAGS = ('amx_int8', 'avx512_vnni', 'avx_vnni')

__all__ = ['BF16_FLAGS', 'INT8_FLAGS', 'cpu_flags', 'native_bf16', 'bf16_flags', 'int8_flags',
           'cpu_name', 'default_threads']


def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> FrozenSet[str]:
    """The feature flags of the first CPU in ``cpuinfo`` (empty when unreadable: not Linux)."""
    try:
        with open(cpuinfo, 'r', encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.startswith(('flags', 'Features')):
                    return frozenset(line.split(':', 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_flags(flags: Optional[Iterable[str]] = None) -> list:
    """The native-bf16 flags present (``amx_bf16``, ``avx512_bf16``), best first."""
    flags = cpu_flags() if flags is None else set(flags)
    return [f for f in BF16_FLAGS if f in flags]


def int8_flags(flags: Optional[Iterable[str]] = None) -> list:
    """The int8 dot-product flags present (AMX, AVX-512 VNNI, AVX VNNI), best first."""
    flags = cpu_flags() if flags is None else set(flags)
    return [f for f in INT8_FLAGS if f in flags]


def cpu_name(cpuinfo: str = '/proc/cpuinfo') -> str:
    """The CPU's model name (``'unknown CPU'`` when unreadable)."""
    try:
        with open(cpuinfo, 'r', encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown CPU'


def native_bf16(flags: Optional[Iterable[str]] = None) -> bool:
    """True when the CPU computes in bf16 natively (AMX or AVX-512 BF16).

    Args:
        flags (iterable[str], optional): CPU flags to judge; default: this
            machine's (:func:`cpu_flags`).
    """
    return bool(bf16_flags(flags))


def default_threads() -> int:
    """CPU math threads: ``$OMP_NUM_THREADS`` if set, else the machine's cores."""
    env = os.environ.get('OMP_NUM_THREADS', '')
    return int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)
