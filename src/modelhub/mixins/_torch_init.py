"""Build a torch model without paying for the random initialisation of weights a checkpoint will overwrite.

While :func:`skip_parameter_init` is active in the current thread, the ``torch.nn.init`` functions leave
``nn.Parameter`` arguments untouched (their memory is allocated but not written, so it costs neither time nor
resident memory until the checkpoint fills it) and record them. The functions are wrapped only while a block is
open, and the wrappers act only in the thread that opened it. Plain tensors (buffers, including non-persistent
ones) are initialised as usual. The caller must then either fill every recorded parameter from the checkpoint or
rebuild the model normally: :class:`SkippedInit` tells which parameters were skipped.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
import weakref
from collections.abc import Iterator
from typing import Any

# torch.nn.init functions that write random or constant values in place
_INIT_FUNCTIONS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
)

_state = threading.local()
_install_lock = threading.Lock()
_active_blocks = 0  # how many skip blocks (any thread) are open; wrappers are installed while > 0


class SkippedInit:
    """Parameters whose initialisation was skipped, held by weak reference.

    Weak, so that a parameter dropped during construction (e.g. the head weight replaced when tying it to the
    embedding) disappears; one that is still alive but not part of the model afterwards is reported by
    :meth:`stray` (something holds uninitialised memory: the caller must build the model normally).
    """

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref[Any]] = {}

    def add(self, param: Any) -> None:
        self._refs[id(param)] = weakref.ref(param)

    def __contains__(self, tensor: object) -> bool:
        ref = self._refs.get(id(tensor))
        return ref is not None and ref() is tensor

    def __len__(self) -> int:
        return sum(1 for ref in self._refs.values() if ref() is not None)

    def stray(self, model: Any) -> list[Any]:
        """Skipped parameters still alive that are not parameters of ``model``."""
        owned = {id(p) for _, p in model.named_parameters(remove_duplicate=False)}

        def alive() -> list[Any]:
            return [p for p in (ref() for ref in self._refs.values()) if p is not None and id(p) not in owned]

        if not alive():
            return []
        gc.collect()  # a dropped parameter caught in a reference cycle is not a stray one
        return alive()

    def clear(self) -> None:
        self._refs.clear()


def _wrap(original: Any) -> Any:
    @functools.wraps(original)
    def init_or_skip(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        recorder: SkippedInit | None = getattr(_state, "recorder", None)
        if recorder is not None:
            import torch

            if isinstance(tensor, torch.nn.Parameter):
                recorder.add(tensor)
                return tensor
        return original(tensor, *args, **kwargs)

    init_or_skip.__modelhub_original__ = original  # type: ignore[attr-defined]
    return init_or_skip


def _install() -> None:
    """Wrap the init functions while at least one block is open; the wrappers act only in threads that asked."""
    global _active_blocks
    with _install_lock:
        _active_blocks += 1
        if _active_blocks > 1:
            return
        import torch.nn.init as init

        for name in _INIT_FUNCTIONS:
            original = getattr(init, name, None)
            if original is not None and not hasattr(original, "__modelhub_original__"):
                setattr(init, name, _wrap(original))


def _uninstall() -> None:
    global _active_blocks
    with _install_lock:
        _active_blocks -= 1
        if _active_blocks > 0:
            return
        import torch.nn.init as init

        for name in _INIT_FUNCTIONS:
            wrapper = getattr(init, name, None)
            original = getattr(wrapper, "__modelhub_original__", None)
            if original is not None:
                setattr(init, name, original)


@contextlib.contextmanager
def skip_parameter_init() -> Iterator[SkippedInit]:
    """Within the block (this thread only), ``torch.nn.init`` skips ``nn.Parameter`` tensors and records them."""
    _install()
    recorder = SkippedInit()
    previous = getattr(_state, "recorder", None)
    _state.recorder = recorder
    try:
        yield recorder
    finally:
        _state.recorder = previous
        _uninstall()
