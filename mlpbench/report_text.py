"""Text safe for each output format: one function per format, used by every writer of that format.

Names and messages come from implementations under test and from result files, and may hold anything: ANSI
escape sequences, NUL bytes, invalid Unicode, newlines that would start a Markdown heading, HTML, a leading
``=`` that a spreadsheet runs as a formula, 200,000 characters.

    clean_text(text)      XML (JUnit) and every other report: control characters (but tab, newline, CR), DEL,
                          C1 controls, lone surrogates and U+FFFE/U+FFFF become visible escapes (``\\x1b``)
    markdown_text(text)   Markdown, one line: also newlines, pipes, backticks, brackets, ``*``, backslashes,
                          ``<`` (so no HTML tag, comment or autolink starts) and a leading block marker (``#``,
                          ``>``, ``-``, ``+``, ``=``, ``1.``) are escaped; with code=True, a code span that holds
                          the text literally
    terminal_text(text)   a terminal, one line: every control character (newline and ESC included) and the
                          bidirectional overrides become visible escapes
    csv_cell(value)       a CSV cell: text a spreadsheet would run as a formula (starting with ``=``, ``+``,
                          ``-``, ``@``, tab or carriage return, also after leading whitespace; the OWASP list)
                          gets a leading ``'``
    plot_text(text)       a matplotlib label: also ``$`` (mathtext) is escaped

Every one caps the text (`capped`): at most `NAME_LIMIT` characters for a name, `MESSAGE_LIMIT` for a
message, the rest replaced by an ellipsis and 8 hex digits of the whole text's SHA-256, so that two long names
that share their beginning stay distinct.
"""

from __future__ import annotations

import hashlib
import re

NAME_LIMIT = 200
MESSAGE_LIMIT = 1000

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_MARKDOWN_LINE_BREAKS = {"\r\n": "\\n", "\n": "\\n", "\r": "\\r", "\t": " "}
_MARKDOWN_ESCAPES = str.maketrans({"\\": "\\\\", "`": "\\`", "*": "\\*", "[": "\\[", "]": "\\]", "|": "\\|",
                                   "<": "&lt;"})
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*)(?:#{1,6}(?=\s|$)|>|[-+](?=\s|$)|(?:=+|-+)(?=\s*$)|(\d{1,9})[.)](?=\s|$))")
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may run as a formula when a cell starts with it (OWASP, CSV injection)."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def capped(text: str, limit: int = NAME_LIMIT) -> str:
    """`text`, or its beginning, an ellipsis and 8 hex digits of the whole text's SHA-256, in `limit`
    characters."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    tail = f"…[{digest}]"
    return text[: max(limit - len(tail), 0)] + tail


def clean_text(text: str) -> str:
    """`text` with every control character (but tab, newline, CR), DEL, C1 control, lone surrogate and
    non-character U+FFFE/U+FFFF replaced by a backslash escape."""
    return _UNSAFE.sub(_escape, text)


def markdown_text(text: object, limit: int = NAME_LIMIT, *, code: bool = False) -> str:
    """`text` as one line of Markdown that renders as the text itself (capped at `limit` characters).

    code: as an inline code span (backticks included) that shows the text literally, e.g. a command."""
    line = capped(str(text), limit)
    if not code:
        line = line.translate(_MARKDOWN_ESCAPES)
    line = clean_text(line)
    for old, new in _MARKDOWN_LINE_BREAKS.items():
        line = line.replace(old, new)
    if not code:
        return _not_a_block(line)
    line = line.replace("|", "\\|")  # a pipe ends a table cell even inside a code span
    fence = "`" * (max((len(run) for run in re.findall("`+", line)), default=0) + 1)
    pad = " " if line.startswith("`") or line.endswith("`") or not line.strip() else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def _not_a_block(line: str) -> str:
    """A backslash before a leading block marker (a heading's #, a list's - or 1., a setext underline), which
    would make the line (or the list item it ends up in) a block of its own; a lone "-" (a placeholder) stays."""
    match = _MARKDOWN_BLOCK_START.match(line)
    if match is None or line.strip() == "-":
        return line
    at = match.end(2) if match.group(2) else len(match.group(1))
    return line[:at] + "\\" + line[at:]


def terminal_text(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """`text` as one line for a terminal (capped at `limit` characters): nothing in it moves the cursor,
    changes colours or reorders what follows."""
    return _TERMINAL_UNSAFE.sub(_escape, capped(str(text), limit))


def csv_cell(value: object) -> object:
    """A CSV cell: text that would start a spreadsheet formula gets a leading ' (numbers stay numbers)."""
    if isinstance(value, str) and (value.startswith(CSV_FORMULA_STARTS)
                                   or value.lstrip().startswith(CSV_FORMULA_STARTS)):
        return "'" + value
    return value


def plot_text(text: object, limit: int = 80) -> str:
    """`text` as a matplotlib label shown as it is (no mathtext; a leading '_' would hide a legend entry)."""
    line = terminal_text(text, limit).replace("$", r"\$")
    return " " + line if line.startswith("_") else line
