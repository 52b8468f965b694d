"""How ModelHubMixin turns ``__init__`` arguments into a JSON config and back.

Pure helpers (no framework imports): JSON-ability checks, coder-based encoding, decoding guided by the ``__init__``
annotation (``Optional[X]`` / ``X | None`` unwrapped), dataclass reconstruction.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeGuard, Union

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

logger = logging.getLogger(__name__)

# encoder: custom object -> JSON-able value; decoder: JSON value -> custom object
Coders = dict[type, tuple[Callable[[Any], Any], Callable[[Any], Any]]]


def is_jsonable(value: Any) -> bool:
    """True when ``json.dumps`` accepts ``value`` as is (no NaN-free guarantee: the stdlib allows NaN)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    try:
        json.dumps(value)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return False
    return True


def is_dataclass_instance(value: Any) -> TypeGuard[DataclassInstance]:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def find_coder(coders: Coders, value: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]] | None:
    for type_, coder in coders.items():
        if isinstance(value, type_):
            return coder
    return None


def can_encode(coders: Coders, value: Any) -> bool:
    """A value goes into config.json if it is a dataclass, has a coder, or is JSON-able already."""
    return is_dataclass_instance(value) or find_coder(coders, value) is not None or is_jsonable(value)


def encode_value(coders: Coders, value: Any) -> Any:
    """The JSON-able form of an ``__init__`` argument (dataclass -> dict, coder-encoded custom types)."""
    if value is None:
        return None
    coder = find_coder(coders, value)
    if coder is not None:
        return coder[0](value)
    if is_dataclass_instance(value):
        return dataclasses.asdict(value)
    return value


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``Optional[X]`` / ``X | None`` -> ``(X, True)``; anything else -> ``(annotation, False)``.

    Only the simple form (exactly one type besides None) is unwrapped: ``int | str | None`` stays as is.
    """
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        if type(None) in args:
            others = [arg for arg in args if arg is not type(None)]
            if len(others) == 1:
                return others[0], True
    return annotation, False


def decode_value(coders: Coders, annotation: Any, value: Any) -> Any:
    """Rebuild an ``__init__`` argument from its JSON form, guided by its type annotation."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return value
    annotation, optional = unwrap_optional(annotation)
    if value is None and optional:
        return None
    if inspect.isclass(annotation) and dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        return load_dataclass(annotation, value)
    if inspect.isclass(annotation):
        for type_, (_, decoder) in coders.items():
            if inspect.isclass(type_) and issubclass(annotation, type_):
                if value is None:
                    return None
                return decoder(value)
    return value


def load_dataclass(datacls: type, data: dict[str, Any]) -> Any:
    """A dataclass instance from a dict; keys the dataclass does not declare are ignored."""
    fields = {field.name for field in dataclasses.fields(datacls)}
    return datacls(**{key: value for key, value in data.items() if key in fields})


def init_annotations(cls: type) -> dict[str, Any]:
    """Resolved annotations of ``cls.__init__`` (string annotations from ``from __future__ import annotations``
    evaluated); falls back to the raw ones when they cannot be resolved."""
    # ignore: mypy calls reading __init__ off a class unsound (a subclass may differ); that function is wanted
    init = cls.__init__  # type: ignore[misc]
    try:
        return typing.get_type_hints(init)
    except Exception:  # unresolvable forward references: keep what inspect sees
        return {
            name: param.annotation
            for name, param in inspect.signature(init).parameters.items()
            if param.annotation is not inspect.Parameter.empty
        }


def bind_init_arguments(
    parameters: dict[str, inspect.Parameter], args: tuple, kwargs: dict
) -> dict[str, Any]:
    """Map the positional and keyword arguments of an ``__init__`` call to parameter names.

    ``**kwargs`` entries appear at top level; ``*args`` cannot be named and are dropped. ``self`` is skipped.
    """
    names = list(parameters)[1:]  # skip self
    bound: dict[str, Any] = {}
    for name, value in zip(names, args, strict=False):
        kind = parameters[name].kind
        if kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.VAR_KEYWORD,
        ):
            break
        bound[name] = value
    bound.update(kwargs)
    return bound
