"""Text that every report reader can take: no control characters, no unpaired surrogates.

Messages come from implementations under test and may hold anything (ANSI colour codes, NUL bytes, invalid
Unicode). XML 1.0 forbids most control characters outright, and terminals act on escape sequences, so each
such character is replaced by a visible escape (``\\x1b``, ``\\x00``, ``\\ud800``); tab, newline and carriage
return are kept.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean_text(text: str) -> str:
    """`text` with every control character (but tab, newline, CR), DEL, C1 control, lone surrogate and
    non-character U+FFFE/U+FFFF replaced by a backslash escape."""
    return _UNSAFE.sub(_escape, text)
