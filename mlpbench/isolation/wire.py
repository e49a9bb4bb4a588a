"""What crosses the trust boundary from a worker to the gate, and how the gate reads it.

A worker runs code the gate does not trust, so its replies are data, never instructions: the gate decodes them
with `safe_loads`, an unpickler that builds only plain values (None, bools, numbers, strings, bytes, lists,
tuples, dicts, sets, NumPy arrays, dtypes and scalars) and the records of an allow-list of the project's own
modules (dataclasses, enums and container subclasses there: the interface's results, capabilities, convention
profiles, the worker's reports). Any other global a reply names (a function to call, a class from the
implementation's module, `os.system`) is refused before anything is built, and the reply is reported as
malformed, naming what it held. Requests from the gate to its worker are ordinary pickles: the worker trusts
the gate.

Values are pickled with protocol 5, whose in-band buffers carry an array's bytes once, without a conversion.

`plain(value)` runs in the worker on what an implementation returned: plain values and allowed records are
kept, anything else becomes a `Foreign` naming its type (a framework's tensor, a generator), so the gate's
checks can say "returned Tensor, expected a NumPy array" instead of failing to decode the reply.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import io
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

PROTOCOL = 5

RECORD_MODULES = ("mlpbench.impls.interface", "mlpbench.impls.capabilities", "mlpbench.reference.conventions",
                  "mlpbench.reference.spec", "mlpbench.reference.early_stopping", "mlpbench.isolation.",
                  "mlpbench.bench.measure", "mlpbench.bench.contention",
                  "mlpbench.bench.timing", "mlpbench.bench.records")
"""Modules whose records (dataclasses, enums, container subclasses) a reply may hold; a name ending in '.' is a
package prefix."""

NUMPY_GLOBALS = frozenset({
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
})
"""The globals NumPy's own pickles of arrays, dtypes and scalars name (NumPy 1 and 2 spellings)."""

BUILTINS = frozenset({"set", "frozenset", "complex", "bytearray", "slice"})
CONTAINERS = (dict, list, tuple, set, frozenset)



class MalformedReply(Exception):
    """A worker's reply that is not plain data (or not a pickle at all); the message names what it held."""


@dataclass(frozen=True)
class Foreign:
    """Something an implementation returned that is not plain data: its type, a short repr, and, for a record
    of its own (a dataclass or named tuple with the interface's field names), its fields made plain, readable
    as attributes, so a check reads `result.output` of an adapter's own result type as it would of ours."""

    type_name: str
    module: str
    text: str = ""
    fields: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields")
        if name.startswith("__") or not fields or name not in fields:
            raise AttributeError(name)
        return fields[name]


SCALARS = (bool, int, float, complex, str, bytes, Foreign)


def _in_record_module(module: str) -> bool:
    return any(module.startswith(m) if m.endswith(".") else module == m for m in RECORD_MODULES)


def is_record_type(cls: Any) -> bool:
    """A class of the allow-list: a dataclass, an enum or a container subclass defined in a record module."""
    if not isinstance(cls, type) or not _in_record_module(cls.__module__):
        return False
    return dataclasses.is_dataclass(cls) or issubclass(cls, (enum.Enum, *CONTAINERS))


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in BUILTINS:
            return getattr(__import__("builtins"), name)
        if (module, name) in NUMPY_GLOBALS:
            return getattr(importlib.import_module(module), name)
        if _in_record_module(module):
            found = getattr(importlib.import_module(module), name, None)
            if is_record_type(found):
                return found
        raise MalformedReply(f"the reply names {module}.{name}, which is not plain data")


def safe_loads(data: bytes) -> Any:
    """The value a worker sent, built from plain data only (MalformedReply otherwise)."""
    try:
        return _SafeUnpickler(io.BytesIO(data)).load()
    except MalformedReply:
        raise
    except Exception as error:  # truncated, not a pickle, a record with the wrong fields, ...
        raise MalformedReply(f"the reply could not be read: {type(error).__name__}: {error}") from None


def dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=PROTOCOL)


def plain(value: Any, *, copy: bool = False, _depth: int = 0) -> Any:
    """`value` with everything that is not plain data replaced by a Foreign (arrays copied when `copy`)."""
    if _depth > 50:
        return Foreign("nested too deeply", "", "")
    if value is None or type(value) in SCALARS or isinstance(value, (np.generic, np.dtype)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return Foreign("ndarray of objects", "numpy", "")
        return np.array(value, copy=True) if copy else value
    container = _CONTAINERS.get(type(value))
    if container is not None:
        return container(value, lambda v: plain(v, copy=copy, _depth=_depth + 1))
    if is_record_type(type(value)):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {f.name: plain(getattr(value, f.name), copy=copy, _depth=_depth + 1)
                       for f in dataclasses.fields(value) if f.init}
            return dataclasses.replace(value, **changes)
        return value
    return _foreign(value, lambda v: plain(v, copy=copy, _depth=_depth + 1))


_CONTAINERS: dict[type, Any] = {
    list: lambda v, inner: [inner(x) for x in v],
    tuple: lambda v, inner: tuple(inner(x) for x in v),
    dict: lambda v, inner: {inner(k): inner(x) for k, x in v.items()},
    set: lambda v, inner: {inner(x) for x in v},
    frozenset: lambda v, inner: frozenset(inner(x) for x in v),
}
"""The plain containers, rebuilt with their items made plain (their subclasses are not plain)."""


def _foreign(value: Any, inner: Any) -> Foreign:
    cls = type(value)
    try:
        text = repr(value)[:80]
    except Exception:  # a repr that raises is still reported by its type
        text = ""
    fields = None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: inner(getattr(value, f.name)) for f in dataclasses.fields(value)}
    elif isinstance(value, tuple) and isinstance(getattr(cls, "_fields", None), tuple):  # a named tuple
        fields = {name: inner(item) for name, item in zip(cls._fields, value, strict=False)}
    return Foreign(cls.__name__, cls.__module__, text, fields)
