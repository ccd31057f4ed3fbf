"""`dlq_tui.heap.give_back`: hands free heap memory back (glibc) and is safe from any thread."""

from __future__ import annotations

import sys
import threading

import pytest

from dlq_tui import heap


def test_trim_is_found_on_linux_glibc() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's malloc_trim is Linux only")
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's; this C library has none (give_back is a no-op there)")
    assert heap.trim_available()


def test_give_back_after_freeing_in_threads_and_concurrently() -> None:
    """What a scan thread frees can be given back from another thread, and calls at once are safe
    (a second one while a trim runs returns False rather than waiting)."""

    def churn() -> None:
        blocks = [bytearray(1 << 20) for _ in range(32)]
        del blocks

    workers = [threading.Thread(target=churn) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results: list[bool] = []
    callers = [threading.Thread(target=lambda: results.append(heap.give_back())) for _ in range(4)]
    for c in callers:
        c.start()
    for c in callers:
        c.join()
    assert len(results) == 4
    assert all(isinstance(r, bool) for r in results)
    if not heap.trim_available():
        assert not any(results)


def test_give_back_without_a_c_library_trim_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_trim", None)
    assert not heap.trim_available()
    assert heap.give_back() is False
