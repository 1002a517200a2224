"""What the machine offers, and the fastest precision that keeps accuracy on it.

``precision="auto"`` means bf16 autocast where the hardware computes bf16 natively (CUDA; CPUs with
AVX512_BF16 or AMX-BF16, or Arm's BF16 extension) and fp32 elsewhere: on an AVX2-only CPU bf16 is
emulated and about 10x slower than fp32. The CPU's flags say whether bf16 is native; a short
probe (a bf16 and an fp32 matrix product, a few milliseconds) confirms that it is also faster here,
and its answer is cached per CPU model and torch version. Nothing here ever stops a run: a failed
probe means fp32, and says why.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

import torch

log = logging.getLogger("facsnet")

PRECISIONS = ("auto", "bf16", "fp32")
BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")   # x86 (AMX, AVX-512) and Arm (FEAT_BF16) spellings
PROBE_MIN_SPEEDUP = 1.2                             # bf16 must beat fp32 by this much to be chosen
PROBE_VERSION = 1


@dataclass(frozen=True)
class CpuInfo:
    model: str
    cores: int
    flags: frozenset

    def bf16_flags(self) -> list[str]:
        return [f for f in BF16_FLAGS if f in self.flags]

    def describe(self) -> str:
        """Model, cores and the extensions that matter for this arithmetic."""
        ext = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx_vnni", "asimd", "bf16")
               if f in self.flags]
        return f"{self.model}, {self.cores} cores, {' '.join(ext) or 'no vector extensions listed'}"


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``precision="auto"`` (or an explicit request) resolved to, and why."""

    precision: str           # "bf16" or "fp32"
    reason: str

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.precision == "bf16" else None

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """The CPU's model name, core count and feature flags (Linux /proc/cpuinfo; elsewhere the
    platform's processor name and no flags)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return CpuInfo(model or "unknown CPU", os.cpu_count() or 1, frozenset(flags))


def matmul_seconds(dtype: torch.dtype, n: int, repeats: int) -> float:
    """Best of ``repeats`` n x n x n matrix products in ``dtype`` on the CPU, in seconds."""
    gen = torch.Generator().manual_seed(0)   # a private generator: timing never moves a seeded run's random stream
    a, b = torch.randn(n, n, generator=gen).to(dtype), torch.randn(n, n, generator=gen).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return best


def bf16_speedup(n: int = 384, repeats: int = 5) -> float:
    """How many times faster a bf16 n x n matrix product runs than an fp32 one on this CPU."""
    return matmul_seconds(torch.float32, n, repeats) / matmul_seconds(torch.bfloat16, n, repeats)


def _probe_cache_path():
    from .utils import cache_dir

    info = cpu_info()
    key = hashlib.sha256(f"{info.model}|{sorted(info.flags)}|{torch.__version__}|{PROBE_VERSION}".encode()).hexdigest()[:16]
    return cache_dir() / "host" / f"bf16-probe-{key}.json"


def cached_bf16_speedup() -> float:
    """:func:`bf16_speedup`, measured once per CPU model and torch version and kept in the cache."""
    from .utils import atomic_write_json

    path = _probe_cache_path()
    try:
        return float(json.loads(path.read_text())["bf16_speedup"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    speedup = bf16_speedup()
    try:
        atomic_write_json(path, {"cpu": cpu_info().describe(), "torch": torch.__version__, "bf16_speedup": speedup})
    except OSError as exc:  # a read-only cache costs a probe per process, nothing else
        log.debug("could not cache the bf16 probe at %s: %s", path, exc)
    return speedup


@lru_cache(maxsize=4)
def auto_precision(device_type: str = "cpu") -> PrecisionChoice:
    """bf16 where it is native and faster, fp32 elsewhere; never raises."""
    if device_type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16", "CUDA device with bf16 support")
        return PrecisionChoice("fp32", "CUDA device without bf16 support")
    if device_type != "cpu":
        return PrecisionChoice("fp32", f"device {device_type}: fp32 is the safe default")
    native = cpu_info().bf16_flags()
    if not native:
        return PrecisionChoice("fp32", "this CPU has no native bf16 (no AVX512_BF16 / AMX / BF16 flag): bf16 would be emulated")
    try:
        speedup = cached_bf16_speedup()
    except Exception as exc:  # noqa: BLE001 - the probe must never stop a run
        return PrecisionChoice("fp32", f"the bf16 probe failed ({type(exc).__name__}: {exc}); using fp32")
    flags = ", ".join(native)
    if speedup < PROBE_MIN_SPEEDUP:
        return PrecisionChoice("fp32", f"native bf16 ({flags}) but a bf16 matrix product is only {speedup:.1f}x fp32 here")
    return PrecisionChoice("bf16", f"native bf16 ({flags}); a bf16 matrix product is {speedup:.1f}x fp32 here")


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> PrecisionChoice:
    """``auto`` | ``bf16`` | ``fp32`` -> the precision to run in. An explicit ``bf16`` on a CPU
    without native bf16 is honoured with a warning that it is emulated and slow."""
    device_type = torch.device(device).type
    if precision == "auto":
        return auto_precision(device_type)
    if precision == "fp32":
        return PrecisionChoice("fp32", "requested")
    if precision == "bf16":
        if device_type == "cpu" and not cpu_info().bf16_flags():
            log.warning("bf16 requested on a CPU without native bf16 (%s): it is emulated and about 10x slower "
                        "than fp32; --precision auto chooses fp32 here", cpu_info().model)
            return PrecisionChoice("bf16", "requested (emulated on this CPU: slow)")
        return PrecisionChoice("bf16", "requested")
    raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
