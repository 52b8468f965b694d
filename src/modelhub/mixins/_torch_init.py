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

# Tensor methods that look at a tensor's metadata, not its values.
_METADATA_OPS = frozenset(
    {
        "shape.__get__",
        "ndim.__get__",
        "dtype.__get__",
        "device.__get__",
        "layout.__get__",
        "requires_grad.__get__",
        "requires_grad.__set__",
        "requires_grad_",
        "is_leaf.__get__",
        "grad.__get__",
        "grad_fn.__get__",
        "data.__set__",
        "names.__get__",
        "is_cuda.__get__",
        "is_meta.__get__",
        "is_sparse.__get__",
        "dim",
        "size",
        "numel",
        "nelement",
        "stride",
        "element_size",
        "is_floating_point",
        "is_complex",
        "is_contiguous",
        "data_ptr",
        "storage_offset",
        "untyped_storage",
        "__hash__",
        "__len__",
        "_has_compatible_shallow_copy_type",
    }
)
# Methods whose result shares (or converts) the parameter's values: reading the result is reading the parameter.
_ALIAS_OPS = frozenset({"data.__get__", "detach", "to", "cpu", "cuda", "half", "float", "double", "bfloat16"})
# In-place methods that overwrite every value: afterwards the parameter is initialised.
_OVERWRITE_OPS = frozenset(
    {
        "normal_",
        "uniform_",
        "zero_",
        "fill_",
        "random_",
        "bernoulli_",
        "exponential_",
        "cauchy_",
        "log_normal_",
    }
)


def _op_name(func: Any) -> str:
    """``"size"``, ``"shape.__get__"``, ``"clone"``... for a function seen by a torch function mode."""
    name = getattr(func, "__name__", "")
    if name in ("__get__", "__set__") or not name:
        from torch.overrides import resolve_name

        name = resolve_name(func) or repr(func)
    return name.removeprefix("torch.Tensor.")


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
        # tensors that alias a skipped parameter (``param.data``, ``param.detach()``...): id -> (alias, param id)
        self._aliases: dict[int, tuple[weakref.ref[Any], int]] = {}
        #: descriptions of skipped parameters whose uninitialised values were read while the model was built
        #: (e.g. a buffer computed from a weight): the model must then be built normally.
        self.read: list[str] = []

    def add(self, param: Any) -> None:
        self._refs[id(param)] = weakref.ref(param)

    def _param_id(self, tensor: Any) -> int | None:
        """The id of the skipped parameter ``tensor`` is or aliases, else None."""
        key = id(tensor)
        ref = self._refs.get(key)
        if ref is not None and ref() is tensor:
            return key
        alias = self._aliases.get(key)
        if alias is not None and alias[0]() is tensor and alias[1] in self._refs:
            return alias[1]
        return None

    def observe(self, func: Any, args: tuple, kwargs: dict, result: Any) -> None:
        """Classify a torch call made while the model is built (see :func:`_read_watch`)."""
        if not self._refs:
            return
        tracked = [
            (i, pid)
            for i, arg in enumerate((*args, *kwargs.values()))
            if (pid := self._param_id(arg)) is not None
        ]
        if not tracked:  # the common case, kept cheap: no skipped parameter involved
            return
        name = _op_name(func)
        if name in _METADATA_OPS:
            return
        if name in _ALIAS_OPS and len(tracked) == 1 and tracked[0][0] == 0:
            if hasattr(result, "data_ptr"):
                self._aliases[id(result)] = (weakref.ref(result), tracked[0][1])
            return
        if name in _OVERWRITE_OPS and len(tracked) == 1 and tracked[0][0] == 0:
            self._refs.pop(tracked[0][1], None)  # fully written by the model itself: no longer uninitialised
            return
        self.read.append(name)

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
        self._aliases.clear()


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

    # ignore: a marker attribute on the wrapper (functions take attributes; its declared type has none)
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


def _read_watch(recorder: SkippedInit) -> Any:
    """A torch function mode (thread-local, like every torch mode) reporting each call to ``recorder.observe``,
    so that a construction reading a skipped parameter's values is noticed."""
    from torch.overrides import TorchFunctionMode

    class _ReadWatch(TorchFunctionMode):
        def __torch_function__(
            self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
        ) -> Any:
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            recorder.observe(func, args, kwargs, result)
            return result

    return _ReadWatch()


@contextlib.contextmanager
def skip_parameter_init() -> Iterator[SkippedInit]:
    """Within the block (this thread only), ``torch.nn.init`` skips ``nn.Parameter`` tensors and records them;
    reads of their (uninitialised) values during the block are recorded in ``SkippedInit.read``."""
    _install()
    recorder = SkippedInit()
    previous = getattr(_state, "recorder", None)
    _state.recorder = recorder
    try:
        with _read_watch(recorder):
            yield recorder
    finally:
        _state.recorder = previous
        _uninstall()
