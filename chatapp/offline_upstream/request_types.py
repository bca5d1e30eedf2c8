"""Checking recorded request bodies against the `anthropic` SDK's own request types (test aid).

The offline upstream ignores fields it does not know, as the API ignores nothing: a field the
SDK's types do not have would be a 400 (or silently mean something else) upstream.  With
OFFLINE_UPSTREAM_RECORD_BODIES set, the upstream appends every accepted Messages body to a
file (state.py); `problems()` walks each body over the SDK's TypedDicts
(`MessageCreateParams` and the block param types, the beta ones for beta requests) and names
every key they do not know and every value of the wrong kind.

This module imports `anthropic` (the server itself never imports it): tests/conftest.py runs
it once at the end of a test session.
"""

from __future__ import annotations

import collections.abc
import json
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import typing_extensions

_WRAPPERS = {typing_extensions.Required, typing_extensions.NotRequired,
             typing_extensions.ReadOnly}
_UNIONS = {Union, types.UnionType}
MAX_PROBLEMS = 50


def _is_typeddict(kind: Any) -> bool:
    return isinstance(kind, type) and typing_extensions.is_typeddict(kind)


def _unwrap(kind: Any) -> Any:
    """The type under Required/NotRequired/ReadOnly and Annotated."""
    while True:
        origin = get_origin(kind)
        if origin in _WRAPPERS:
            kind = get_args(kind)[0]
        elif origin is typing_extensions.Annotated:
            kind = kind.__origin__
        else:
            return kind


def _alias(kind: Any) -> str | None:
    """A PropertyInfo(alias=...) on an annotation: the key's name on the wire."""
    for meta in getattr(kind, "__metadata__", ()):
        alias = getattr(meta, "alias", None)
        if alias:
            return str(alias)
    if get_origin(kind) in _WRAPPERS:  # Required[Annotated[X, PropertyInfo(alias=...)]]
        return _alias(get_args(kind)[0])
    return None


@cache
def _fields(typed: type) -> dict[str, Any]:
    """Wire key → (unwrapped) type of every key of a TypedDict."""
    hints = typing_extensions.get_type_hints(typed, include_extras=True)
    return {(_alias(kind) or name): _unwrap(kind) for name, kind in hints.items()}


def _check_dict(value: Any, typed: type, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({typed.__name__}), got {type(value).__name__}"]
    fields = _fields(typed)
    found = []
    for key, item in value.items():
        if key not in fields:
            found.append(f"{path}.{key}: not a field of {typed.__name__}")
        else:
            found += check(item, fields[key], f"{path}.{key}")
    return found


def _literals(typed: type, key: str) -> tuple[Any, ...]:
    kind = _fields(typed).get(key)
    return get_args(kind) if get_origin(kind) is Literal else ()


_DISPATCH: dict[int, tuple[Any, tuple[str | None, dict[Any, tuple[Any, ...]]]]] = {}


def _dispatch(members: tuple[Any, ...]) -> tuple[str | None, dict[Any, tuple[Any, ...]]]:
    """The tag table of a union's members (see _tag_table), once per union."""
    known = _DISPATCH.get(id(members))
    if known is None:
        known = _DISPATCH[id(members)] = (members, _tag_table(members))
    return known[1]


def _tag_table(members: tuple[Any, ...]) -> tuple[str | None, dict[Any, tuple[Any, ...]]]:
    """For a union of TypedDicts tagged by a literal key (`type` for blocks, `role` for
    messages): that key and, for each of its values, the members carrying it."""
    for key in ("type", "role"):
        table: dict[Any, list[Any]] = {}
        for member in members:
            if _is_typeddict(member):
                for value in _literals(member, key):
                    table.setdefault(value, []).append(member)
        if table:
            return key, {value: tuple(found) for value, found in table.items()}
    return None, {}


def _check_union(value: Any, members: tuple[Any, ...], path: str) -> list[str]:
    key, table = _dispatch(members)
    if key is not None and isinstance(value, dict) and value.get(key) in table:
        # Tagged unions: the members whose tag matches decide.
        members = table[value[key]]
    best: tuple[bool, int, list[str]] | None = None
    for member in members:
        found = check(value, member, path)
        if not found:
            return []
        # A member the value does not even have the shape of explains it worst.
        rank = (any(p.startswith(f"{path}: ") for p in found), len(found), found)
        if best is None or rank[:2] < best[:2]:
            best = rank
    return best[2] if best else [f"{path}: matches none of the allowed types"]


_SCALARS: dict[type, tuple[type, ...]] = {str: (str,), int: (int,), float: (int, float),
                                          bool: (bool,)}


def _check_scalar(value: Any, kind: type, path: str) -> list[str]:
    wrong = isinstance(value, bool) and kind is not bool
    if wrong or not isinstance(value, _SCALARS[kind]):
        return [f"{path}: expected {kind.__name__}, got {type(value).__name__}"]
    return []


def _check_generic(value: Any, kind: Any, origin: Any, path: str) -> list[str]:
    args = get_args(kind)
    if isinstance(origin, type) and issubclass(origin, collections.abc.Mapping):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        inner = args[1] if len(args) == 2 else Any
        return [p for key, item in value.items() for p in check(item, inner, f"{path}.{key}")]
    if not isinstance(value, list):
        return [f"{path}: expected a list, got {type(value).__name__}"]
    inner = args[0] if args else Any
    return [p for index, item in enumerate(value) for p in check(item, inner, f"{path}.{index}")]


# Shapes by id() of the type object: hashing a typing Union walks all its members, which made
# the lookup cost more than the check.  The entry keeps the type alive, so its id stays its own.
_SHAPES: dict[int, tuple[Any, tuple[str, Any]]] = {}


def _shape(kind: Any) -> tuple[str, Any]:
    """What kind of type `kind` is, worked out once per type (the walk visits thousands)."""
    known = _SHAPES.get(id(kind))
    if known is None:
        known = _SHAPES[id(kind)] = (kind, _work_out_shape(kind))
    return known[1]


def _work_out_shape(kind: Any) -> tuple[str, Any]:
    kind = _unwrap(kind)
    origin = get_origin(kind)
    if kind in (Any, object) or isinstance(kind, typing.TypeVar):
        return "any", None
    if kind is None or kind is type(None):
        return "none", None
    if origin in _UNIONS:
        return "union", tuple(_unwrap(member) for member in get_args(kind))
    if origin is Literal:
        return "literal", get_args(kind)
    if _is_typeddict(kind):
        return "typeddict", kind
    if kind in _SCALARS:
        return "scalar", kind
    if origin is not None:
        return "generic", (kind, origin)
    if isinstance(kind, type) and issubclass(kind, collections.abc.Iterable) and kind is not str:
        return "iterable", None
    return "any", None  # a type the walk does not model (bytes, file types): not checked


def check(value: Any, kind: Any, path: str = "body") -> list[str]:
    """What is wrong with `value` as a `kind` (an SDK param type): unknown keys, wrong kinds."""
    shape, data = _shape(kind)
    if shape == "any":
        return []
    if shape == "none":
        return [] if value is None else [f"{path}: expected null"]
    if shape == "union":
        return _check_union(value, data, path)
    if shape == "literal":
        return [] if value in data else [f"{path}: {value!r} is not one of {list(data)}"]
    if shape == "typeddict":
        return _check_dict(value, data, path)
    if shape == "scalar":
        return _check_scalar(value, data, path)
    if shape == "generic":
        return _check_generic(value, data[0], data[1], path)
    return [] if isinstance(value, list | dict) else [f"{path}: expected a list"]


def request_type(entry: dict[str, Any]) -> Any:
    """The SDK type a recorded body should have: by route, beta or not, streamed or not."""
    if entry.get("beta"):
        from anthropic.types.beta import message_count_tokens_params as counting
        from anthropic.types.beta import message_create_params as creating
    else:
        from anthropic.types import message_count_tokens_params as counting
        from anthropic.types import message_create_params as creating
    if entry.get("path", "").endswith("/count_tokens"):
        return counting.MessageCountTokensParams
    streamed = entry.get("body", {}).get("stream") is True and not entry.get("batch_request")
    return creating.MessageCreateParamsStreaming if streamed else (
        creating.MessageCreateParamsNonStreaming)


def problems(path: Path) -> list[str]:
    """Every problem of every body recorded in `path` (at most MAX_PROBLEMS)."""
    found: list[str] = []
    if not path.exists():
        return found
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            entry = json.loads(line)
            where = f"request {number} ({entry.get('path')}{' beta' if entry.get('beta') else ''})"
            found += [f"{where}: {p}" for p in check(entry["body"], request_type(entry))]
            if len(found) >= MAX_PROBLEMS:
                break
    return found[:MAX_PROBLEMS]
