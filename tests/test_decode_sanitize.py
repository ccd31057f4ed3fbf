import re

from hypothesis import given
from hypothesis import strategies as st

from dlq_tui.decode.sanitize import escape_markup, one_line, safe_text

# Anything a terminal could interpret (CR included), and what reorders or cannot be encoded.
_DANGEROUS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def test_ansi_sequences_become_visible_text() -> None:
    s = "\x1b[2J\x1b[31mred"
    out = safe_text(s)
    assert "\x1b" not in out
    assert out == "\\x1b[2J\\x1b[31mred"


def test_c1_csi_bel_del_cr() -> None:
    assert safe_text("a\x9b31mb") == "a\\x9b31mb"
    assert safe_text("ding\x07") == "ding\\x07"
    assert safe_text("x\x7fy") == "x\\x7fy"
    assert safe_text("over\rwrite") == "over\\x0dwrite"
    assert safe_text("\x00") == "\\x00"


def test_bidi_and_lone_surrogate_escaped() -> None:
    assert safe_text("abc\u202edef") == "abc\\u202edef"
    assert safe_text("x\ud800y") == "x\\ud800y"


def test_tab_newline_and_unicode_kept() -> None:
    s = "line 1\n\tline 2 — ünïcödé 日本"
    assert safe_text(s) is s


def test_markup_is_not_safe_texts_job_but_escape_markup_does_it() -> None:
    assert safe_text("[bold]x[/]") == "[bold]x[/]"
    assert escape_markup("[bold]x[/]") == "\\[bold]x\\[/]"


def test_one_line() -> None:
    assert one_line("a\nb\tc\r\nd") == "a↵b c↵d"
    assert one_line("\x1b[2Jx") == "\\x1b[2Jx"
    assert one_line("abcdef", 4) == "abc…"
    assert one_line("abcd", 4) == "abcd"
    assert one_line("abc", 0) == ""
    assert one_line("x" * 1_000_000, 10) == "x" * 9 + "…"


@given(st.text())
def test_safe_text_never_leaves_control_chars(s: str) -> None:
    out = safe_text(s)
    assert _DANGEROUS.search(out) is None
    out.encode("utf-8")  # no lone surrogates left


@given(st.text(), st.integers(min_value=1, max_value=50))
def test_one_line_is_one_safe_line(s: str, limit: int) -> None:
    out = one_line(s, limit)
    assert "\n" not in out and "\t" not in out
    assert _DANGEROUS.search(out) is None
    assert len(out) <= limit
    full = one_line(s)
    assert out == (full if len(full) <= limit else full[: limit - 1] + "…")
