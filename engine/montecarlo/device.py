"""Which machine runs a simulation: the CPU, or an NVIDIA GPU through numba.cuda.

Also the one place that turns the engine's Numba-compiled scalar kernels into CUDA device
functions (`device_function`), so the CPU and the GPU run the same source.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

DEVICES = ("cpu", "cuda", "auto")


class DeviceError(ValueError):
    """A device was asked for that this machine cannot provide (a message, not a traceback)."""


def _cuda_module() -> Any:
    try:
        from numba import cuda
    except ImportError as exc:  # a Numba without its CUDA target (numba-cuda not installed)
        raise DeviceError(f"numba.cuda cannot be imported ({exc}); install numba-cuda") from None
    return cuda


def cuda_problem() -> str | None:
    """Why no CUDA GPU can be used here, or None when one can. ``cuda.is_available`` returns
    False both without a driver and without a GPU; the driver's own reason is more useful."""
    try:
        cuda = _cuda_module()
    except DeviceError as exc:
        return str(exc)
    if cuda.is_available():
        return None
    try:
        len(cuda.gpus)  # initialises the driver, which raises with its reason
    except Exception as exc:  # CudaSupportError and driver errors: report, never raise
        return " ".join(str(exc).split()).rstrip(": ") or type(exc).__name__
    return "no CUDA-capable GPU was found"


def gpu_name() -> str:
    """The name of the GPU that a CUDA run uses (the current device), for reports."""
    device = _cuda_module().current_context().device
    name = getattr(device, "name", None) or "CUDA simulator"  # the simulator's has no name
    return name.decode() if isinstance(name, bytes) else str(name)


def select_device(requested: str) -> str:
    """"cpu" or "cuda" for a request of "cpu", "cuda" or "auto".

    "auto" takes the GPU when one is usable and the CPU otherwise; "cuda" without a usable GPU
    raises DeviceError with the reason, so the command line can print one sentence.
    """
    if requested not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}, got {requested!r}")
    if requested == "cpu":
        return "cpu"
    problem = cuda_problem()
    if problem is None:
        return "cuda"
    if requested == "auto":
        return "cpu"
    raise DeviceError(f"--device cuda: no CUDA GPU is usable on this machine ({problem}); "
                      "use --device cpu or --device auto")


def _min(a, b):  # Python's rule: the first argument unless the second is smaller
    return b if b < a else a


def _max(a, b):
    return b if b > a else a


@functools.cache
def _builtins() -> dict[str, Any]:
    """Device versions of the builtins that Numba's CUDA target cannot type: Numba 0.68 types
    two-argument ``min``/``max`` through a variadic overload that its CUDA target rejects."""
    cuda = _cuda_module()
    return {"min": cuda.jit(device=True)(_min), "max": cuda.jit(device=True)(_max)}


def device_function(fn: Any, **callees: Any) -> Callable[..., Any]:
    """A CUDA device function compiled from the Python source of the njit function ``fn``.

    ``callees`` rebind the global names ``fn`` calls (other njit functions) to their device
    versions: a CUDA function may call an njit function only when that one is inlined
    (``inline="always"``, as in ``rng``), and the source stays shared rather than copied.
    Two-argument ``min`` and ``max`` are rebound too (see `_builtins`).
    """
    cuda = _cuda_module()
    py = fn.py_func
    scope = dict(py.__globals__)
    scope.update(_builtins())
    scope.update(callees)
    clone = types.FunctionType(py.__code__, scope, py.__name__, py.__defaults__, py.__closure__)
    clone.__kwdefaults__ = py.__kwdefaults__
    return cuda.jit(device=True)(clone)
