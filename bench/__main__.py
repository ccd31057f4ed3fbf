"""`make bench`: every benchmark, each printing its figures next to its baseline from the same run.

`python -m bench --huge` (`make bench BENCH_ARGS=--huge`) adds the 10M x 1 KB run of
bench_scale (seeded once, reused); `--plot` redraws docs/img/performance.png."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    extra = [a for a in sys.argv[1:] if a in ("--huge", "--plot")]
    runs = [
        [sys.executable, "-m", "bench.bench_engine"],
        [sys.executable, "-m", "bench.bench_scale", *extra],
        [sys.executable, str(HERE / "bench_store.py"), "--records", "1000000"],
        [sys.executable, str(HERE / "bench_groups.py"), "--records", "1000000"],
        [sys.executable, str(HERE / "bench_decode.py")],
        [sys.executable, "-m", "bench.bench_redrive"],
    ]
    table = HERE / "bench_table.py"
    if table.exists():
        runs.append([sys.executable, str(table)])
    status = 0
    for cmd in runs:
        print(f"\n$ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}", flush=True)
        status |= subprocess.run(cmd, cwd=HERE.parent).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
