"""gemma_accel.info(): what this build found on this machine."""
import os

from . import _core
from ._version import __version__


def default_threads() -> int:
    """Threads the engine uses by default: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def info() -> dict:
    """Return version, CPU features found, kernel set chosen (and those this CPU can run),
    OpenBLAS yes/no, the default thread count, the worker threads of the process's one
    pool, which every loaded model shares (0 when none is loaded), the backends built in,
    and the Vulkan devices (name, type, memory, subgroup size, features; with
    "vulkan_missing" saying why there are none)."""
    core = _core.cpu_info()
    devices, missing = _core.vulkan_devices()
    return {
        "version": __version__,
        "cpu_features": [name for name, present in core["cpu_features"].items() if present],
        "kernel_set": core["kernel_set"],
        "kernel_sets": core["kernel_sets"],
        "openblas": core["openblas"],
        "threads": default_threads(),
        "pool_threads": core["pool_threads"],
        "backends": _core.backends(),
        "vulkan_devices": devices,
        "vulkan_missing": missing,
    }
