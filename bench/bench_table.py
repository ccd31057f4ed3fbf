"""Benchmark of the record table: paint and keypress-to-repaint at 1k vs 1M rows.

Plain script, prints figures, asserts nothing:

    .venv/bin/python bench/bench_table.py [--size 120x40] [--presses 300]

Three figures per view size, each p50 / p99 in milliseconds:

- ``paint cold``: `render_line` for every line of the screen after `rows_changed()` dropped the
  strip cache, at random scroll positions (what a jump or a new filter costs);
- ``move direct``: `action_cursor_down()` plus rendering the lines it dirtied (the widget's own cost
  of one keypress, without Textual's event loop);
- ``key->paint``: a headless app (`run_test`): time from `pilot.press(key)` to the last
  `render_line` call that the keypress caused, i.e. key handling + Textual's screen update +
  our rendering. Keys: down (j), pagedown, up (k), in a fixed mix; also split by what the key
  repainted: ``2 lines`` (the cursor moved on screen) or ``scrolled`` (the view moved: every line
  is painted, mostly from the strip cache). The mix differs between sizes (the 1k view wraps the
  cursor back more often), so compare the split figures.

The row source is synthetic (cells computed from the index, string formatting per row like the
real source minus decoding), so the figures are the table's, not the decoder's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from dataclasses import dataclass

from textual.app import App, ComposeResult
from textual.strip import Strip

from dlq_tui.tui.widgets.record_table import RecordTable, RowCells

KINDS = ("", "merge", "purge", "skip", "resolved")
MARKS = {"": "", "merge": "M", "purge": "P", "skip": "S", "resolved": "✓"}


@dataclass
class Rows:
    n: int

    def __len__(self) -> int:
        return self.n

    def cells(self, index: int) -> RowCells:
        kind = KINDS[index % 5]
        return RowCells(
            mark=MARKS[kind],
            style=kind,
            partition=index % 12,
            offset=10_000_000 + index,
            timestamp=f"2026-11-{1 + index % 28:02d}T{index % 24:02d}:{index % 60:02d}:{index % 59:02d}",
            key=f"ORD{index:09d}",
            value=f'{{"orderId": "ORD{index:09d}", "reason": "wrong product", "amount": {index % 977}.50}}',
            error="org.springframework.kafka.listener.ListenerExecutionFailedException: timeout",
            selected=index % 17 == 0,
        )


class Host(App[None]):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def compose(self) -> ComposeResult:
        yield RecordTable(Rows(self.n))

    def on_mount(self) -> None:
        self.query_one(RecordTable).focus()


def pct(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {p50 * 1000:7.3f} ms  p99 {p99 * 1000:7.3f} ms  (n={len(ordered)})"


async def bench(n: int, size: tuple[int, int], presses: int) -> dict[str, list[float]]:
    app = Host(n)
    out: dict[str, list[float]] = {
        "paint cold": [],
        "move direct": [],
        "key->paint": [],
        "  2 lines": [],
        "  scrolled": [],
    }
    rng = random.Random(n)
    async with app.run_test(size=size) as pilot:
        table = app.query_one(RecordTable)
        await pilot.pause()
        height = table.scrollable_content_region.height

        # paint cold: all lines of the screen, strip cache dropped, random positions
        for _ in range(200):
            table.scroll_to(y=rng.randrange(0, max(1, table.max_scroll_y)), animate=False, force=True)
            table.rows_changed()
            t0 = time.perf_counter()
            for y in range(height):
                table.render_line(y)
            out["paint cold"].append(time.perf_counter() - t0)

        # move direct: the action and the two dirtied lines
        table.cursor = rng.randrange(0, n - height)
        await pilot.pause()
        for _ in range(presses):
            if table.cursor >= n - 2:
                table.cursor = 0
            before = table.cursor - table.scroll_offset.y + 1
            t0 = time.perf_counter()
            table.action_cursor_down()
            after = table.cursor - table.scroll_offset.y + 1
            table.render_line(before)
            table.render_line(after)
            out["move direct"].append(time.perf_counter() - t0)
        await pilot.pause()

        # key->paint through Textual
        last_paint = 0.0
        painted = 0
        original = table.render_line

        def timed(y: int) -> Strip:
            nonlocal last_paint, painted
            strip = original(y)
            last_paint = time.perf_counter()
            painted += 1
            return strip

        table.render_line = timed  # type: ignore[method-assign]
        table.cursor = n // 2
        await pilot.pause()
        keys = (["j"] * 8 + ["pagedown"] + ["k"] * 3) * (presses // 12 + 1)
        for key in keys[:presses]:
            if table.cursor > n - 3 * height:  # keep every key a real move at 1k rows too
                table.cursor = 2 * height
                await pilot.pause()
            last_paint = 0.0
            painted = 0
            t0 = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            if last_paint:
                out["key->paint"].append(last_paint - t0)
                out["  2 lines" if painted <= 2 else "  scrolled"].append(last_paint - t0)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--presses", type=int, default=300)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    await bench(1_000, (width, height), 50)  # warm-up (imports, style caches), not reported
    for n in (1_000, 1_000_000):
        results = await bench(n, (width, height), args.presses)
        print(f"{n:>9,} rows, {width}x{height}")
        for name, samples in results.items():
            print(f"  {name:<12} {pct(samples)}")


if __name__ == "__main__":
    asyncio.run(main())
