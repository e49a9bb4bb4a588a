"""Typed parsing of JSON records: a dataclass (or TypedDict) and its field types are the schema.

`load_json` reads a file as JSON: a regular file of bounded size, UTF-8, bounded nesting (NaN and Infinity
literals are parsed, so that `decode` can name the field that holds one: no field accepts them).
`decode(type, value, where)` turns the parsed value into the typed record and checks every field on the way,
so that whatever a file holds, reading it either gives records the rest of the program can use as they are,
or raises `SchemaError` with one line naming the field (``cells[3].median_s: expected a number ... got
"fast"``).

Types understood: str, bool, int, float (finite), None, Enum subclasses, ``X | None``, ``tuple[X, ...]``,
``list[X]``, ``dict[str, X]`` / ``Mapping[str, X]``, dataclasses, TypedDicts (their required keys must be
present) and Any (any JSON value nested at most `MAX_DEPTH` deep). Numbers are bounded: ints in `INT_RANGE`,
floats in `FLOAT_RANGE`, unless the record narrows a field in its class attribute ``RANGES`` (field name ->
(low, high), also applied to each item of a tuple or list). A dataclass field without a default is required,
unless the class attribute ``JSON_DEFAULTS`` gives the value a file may leave it out with; a record's
``schema_problem()`` method, when it has one, names what its fields get wrong together (or returns None).
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import json
import math
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Union

MAX_DEPTH = 32
INT_RANGE = (-(2**53), 2**53)
FLOAT_RANGE = (-1e30, 1e30)


class SchemaError(ValueError):
    """A value that does not have the type or range its record says; the message names the field."""


def load_json(path: Path, max_bytes: int) -> Any:
    """The JSON value in the file at `path` (nesting bounded by the parser; NaN and Infinity are parsed, and
    `decode` then names the field that holds one); OSError when it cannot be read; SchemaError when it is not
    JSON or too large."""
    if not path.is_file():
        raise SchemaError(f"{path} is not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise SchemaError(f"{path} is {size} bytes, more than the {max_bytes} a results file may have")
    data = path.read_bytes()[: max_bytes + 1]
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise SchemaError(f"{path} is nested too deeply to be a results file") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise SchemaError(f"{path} is not valid JSON: {error}") from None


def decode(tp: Any, value: Any, where: str = "") -> Any:
    """`value` (parsed JSON) as type `tp`, checked all the way down; SchemaError naming `where` otherwise."""
    return _decode(tp, value, where, None)


_SCALARS = {
    type(None): (lambda v: v is None, "null"),
    bool: (lambda v: isinstance(v, bool), "true or false"),
    str: (lambda v: isinstance(v, str), "a string"),
}
"""Scalar types: the test a JSON value must pass, and what is expected in words."""


def _decode(tp: Any, value: Any, where: str, bounds: tuple[float, float] | None) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return _plain(value, where, 0)
    if tp in _SCALARS:
        test, expected = _SCALARS[tp]
        return _expect(test(value), value, where, expected)
    if tp in (int, float):
        return _number(tp, value, where, bounds)
    if origin in (Union, types.UnionType):
        return _union(typing.get_args(tp), value, where, bounds)
    if origin in (tuple, list):
        return _sequence(tp, value, where, bounds)
    if origin in (dict, collections.abc.Mapping):
        _expect(isinstance(value, dict), value, where, "an object")
        item = typing.get_args(tp)[1]
        return {key: _decode(item, v, _join(where, key), bounds) for key, v in value.items()}
    return _record(tp, value, where)


def _sequence(tp: Any, value: Any, where: str, bounds: tuple[float, float] | None) -> Any:
    _expect(isinstance(value, list), value, where, "a list")
    item = typing.get_args(tp)[0]
    items = [_decode(item, v, f"{where}[{i}]", bounds) for i, v in enumerate(value)]
    return tuple(items) if typing.get_origin(tp) is tuple else items


def _record(tp: Any, value: Any, where: str) -> Any:
    """An Enum member, a TypedDict or a dataclass."""
    if isinstance(tp, type) and issubclass(tp, Enum):
        allowed = [member.value for member in tp]
        _expect(value in allowed, value, where, "one of " + ", ".join(map(repr, allowed)))
        return tp(value)
    if typing.is_typeddict(tp):
        return _typed_dict(tp, value, where)
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, value, where)
    raise TypeError(f"no JSON schema for type {tp!r}")  # a record field of a type this module does not know


def _expect(ok: bool, value: Any, where: str, expected: str) -> Any:
    if not ok:
        raise SchemaError(f"{_at(where)}: expected {expected}, got {_shown(value)}")
    return value


def _at(where: str) -> str:
    return where or "the file's top level"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _union(options: tuple[Any, ...], value: Any, where: str, bounds: tuple[float, float] | None) -> Any:
    if value is None and type(None) in options:
        return None
    problems = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _decode(option, value, where, bounds)
        except SchemaError as error:
            problems.append(str(error).split(": expected ", 1)[-1].split(", got ")[0])
    if type(None) in options:
        problems.append("null")
    raise SchemaError(f"{_at(where)}: expected {' or '.join(problems)}, got {_shown(value)}")


def _number(tp: type, value: Any, where: str, bounds: tuple[float, float] | None) -> Any:
    low, high = bounds or (INT_RANGE if tp is int else FLOAT_RANGE)
    kinds = (int,) if tp is int else (int, float)
    word = "a whole number" if tp is int else "a number"
    if not isinstance(value, kinds) or isinstance(value, bool) or not low <= value <= high:  # NaN: False too
        raise SchemaError(f"{_at(where)}: expected {word} from {low:g} to {high:g}, got {_shown(value)}")
    return float(value) if tp is float else value


def _plain(value: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise SchemaError(f"{_at(where)}: nested more than {MAX_DEPTH} deep")
    if isinstance(value, dict):
        return {k: _plain(v, _join(where, k), depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(f"{_at(where)}: expected a finite number, got {value}")
    return value


def _typed_dict(tp: Any, value: Any, where: str) -> dict[str, Any]:
    _expect(isinstance(value, dict), value, where, "an object")
    hints = typing.get_type_hints(tp)
    missing = [key for key in sorted(tp.__required_keys__) if key not in value]
    if missing:
        raise SchemaError(f"{_join(where, missing[0])}: missing")
    return {key: (_decode(hints[key], v, _join(where, key), None) if key in hints
                  else _plain(v, _join(where, key), 1)) for key, v in value.items()}


def _dataclass(tp: Any, value: Any, where: str) -> Any:
    _expect(isinstance(value, dict), value, where, "an object")
    hints = typing.get_type_hints(tp)
    ranges = getattr(tp, "RANGES", {})
    defaults = getattr(tp, "JSON_DEFAULTS", {})
    values = {}
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        here = _join(where, f.name)
        if f.name in value:
            values[f.name] = _decode(hints[f.name], value[f.name], here, ranges.get(f.name))
        elif f.name in defaults:
            values[f.name] = copy.deepcopy(defaults[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SchemaError(f"{here}: missing")
    record = tp(**values)
    problem = record.schema_problem() if hasattr(record, "schema_problem") else None
    if problem:
        raise SchemaError(f"{_at(where)}: {problem}")
    return record
