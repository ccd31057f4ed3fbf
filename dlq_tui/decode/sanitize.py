"""Make payload strings safe to put on a terminal.

Payloads are attacker-controlled as far as the engineer's terminal is concerned: an ESC or a C1
CSI (``\\x9b``) in a record must never reach the terminal as a control sequence. `safe_text`
replaces every character a terminal could interpret with visible escape text.

Rich markup is a separate concern (the UI renders payloads with ``rich.text.Text`` /
``markup=False``); `escape_markup` is re-exported for places that must build markup strings.
"""

from __future__ import annotations

import re

from rich.markup import escape as _rich_escape

__all__ = ["escape_markup", "one_line", "safe_text"]

# C0 controls except TAB and LF, DEL, C1 controls, bidi embeddings/overrides/isolates (they reorder
# what is shown: "trojan source"), and lone surrogates (they cannot be encoded for the terminal).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _one_line_char(m: re.Match[str]) -> str:
    ch = m.group()
    if ch == "\n":
        return "↵"
    if ch == "\t":
        return " "
    return _escape_char(m)


def safe_text(s: str) -> str:
    """`s` with every terminal-interpreted character shown as escape text (ESC -> ``\\x1b``).

    TAB and LF are kept (multi-line views need them); CR, all other C0 controls, DEL, C1
    controls, bidi controls and lone surrogates are escaped. Strings without any are returned as is.
    """
    if _UNSAFE.search(s) is None:
        return s
    return _UNSAFE.sub(_escape_char, s)


def one_line(s: str, limit: int | None = None) -> str:
    """A one-line, terminal-safe preview: LF and CRLF -> ``↵``, TAB -> space, other controls escaped as in
    `safe_text`; cut to `limit` characters (the last one an ``…``) when longer."""
    if limit is not None:
        if limit <= 0:
            return ""
        # Escaping only makes text longer, so the first `limit` input characters suffice.
        s = s[: limit + 1]
    if "\r" in s:
        s = s.replace("\r\n", "\n")
    out = _UNSAFE_ONE_LINE.sub(_one_line_char, s) if _UNSAFE_ONE_LINE.search(s) else s
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


def escape_markup(s: str) -> str:
    """Escape Rich console markup (``[bold]`` -> ``\\[bold]``); does not make text terminal-safe."""
    return _rich_escape(s)
