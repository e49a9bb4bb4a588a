"""Names as path components: whatever a name holds (``..``, ``/``, an absolute path, NUL, control characters,
10,000 characters), the file or folder made from it is exactly one component, inside the folder it is joined
to.

A component keeps letters, digits and ``. _ + -``; every run of other characters becomes one ``_``; leading
dots are dropped (no ``..``, no hidden file); an empty result is ``_``. A component longer than the limit is
cut and ends in ``-`` and 8 hex digits of the SHA-256 of the whole name, so two long names stay distinct.
"""

from __future__ import annotations

import hashlib
import re

COMPONENT_LIMIT = 120
"""The longest component built (file systems allow 255 bytes; this leaves room for the temporary names of
atomic writes)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def short_digest(text: str) -> str:
    """8 hex digits of the SHA-256 of `text` (UTF-8, lone surrogates allowed)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def safe_component(name: str, suffix: str = "", limit: int = COMPONENT_LIMIT) -> str:
    """`name` as one path component ending in `suffix` (e.g. ".json"), at most `limit` characters."""
    text = _UNSAFE.sub("_", name).lstrip(".") or "_"
    room = limit - len(suffix)
    if len(text) > room:
        text = text[: room - 9] + "-" + short_digest(name)
    return text + suffix


def distinct_components(names: list[str]) -> dict[str, str]:
    """name -> component for each name, no two names sharing a component (a name whose component another
    name already has gets its digest appended)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        component = safe_component(name)
        if component in taken:
            component = safe_component(f"{name}", suffix=f"-{short_digest(name)}")
        taken.add(component)
        out[name] = component
    return out
