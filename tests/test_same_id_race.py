"""Two `merge-all` with the same transactional id at once (issue 13, rough edge): they fence each
other; neither merges a record twice, and the one that loses exits 0 when the other did the work,
saying so, instead of failing."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.stack import Rec, Stack, create_topic, kcat_read, produce, unique_name

DLQ_TUI = str(Path(sys.executable).with_name("dlq-tui"))
N = 2000


async def test_same_id_race_merges_once_and_both_exit_0(stack: Stack, tmp_path: Path) -> None:
    name = unique_name("same-id")
    source, dest = f"{name}-dlq", f"{name}-retry"
    await create_topic(stack.bootstrap, source, config={"cleanup.policy": "compact"})
    await create_topic(stack.bootstrap, dest)
    await produce(stack.bootstrap, source, [Rec(f"k{i}".encode(), b"v" * 100) for i in range(N)])
    cmd = [DLQ_TUI, "merge-all", "-b", stack.bootstrap, "-g", unique_name("g"), f"-tid-{name}", source, dest]
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

    results = await asyncio.gather(asyncio.to_thread(run), asyncio.to_thread(run))
    merged = 0
    for r in results:
        assert r.returncode == 0, (r.stdout, r.stderr)
        match = re.search(r"^([\d,]+) merged", r.stdout, re.MULTILINE)
        assert match, r.stdout
        merged += int(match.group(1).replace(",", ""))
        if match.group(1) == "0":  # the loser says what happened (or found all resolved at open)
            assert "already resolved by someone else" in r.stdout or "nothing to commit" in r.stdout
    assert merged == N
    copies = kcat_read(stack.bootstrap, dest)
    assert len(copies) == N and len({c.key for c in copies}) == N
