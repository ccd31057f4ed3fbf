"""Incident-scale benchmark (issue 9): print, memory, filters and load at 400k-1M records of ~1 KB,
each figure next to its baseline measured in the same run (the machine is shared: read ratios).

    .venv/bin/python -m bench.bench_scale [--print-records N] [--print-varying N] [--app-records N] [--plot] [--huge]

- print: `dlq-tui print --format jsonl > /dev/null` vs a bare aiokafka getmany loop vs
  `kcat -C -J` over the same N x 1 KB topic: rate, and each process's peak RSS (os.wait4).
- app: the engine in its own process loads N x 1 KB records (time to first rows, to loaded, vs the
  bare aiokafka loop), then runs the bare-word and field filters and the live count of a word
  typed letter by letter; its RSS is read from /proc (heap vs mapped arena pages).
- --plot: load rate and peak RSS against DLQ size (10k, 100k, 1M; 10M with --huge) for dlq-tui,
  bare aiokafka and kcat, drawn to docs/img/performance.png (needs matplotlib).
- --huge: also the 10M x 1 KB topic (seeded once and reused; about 10 GB of log and, while the
  app runs, up to 10 GB of arena file in the cache directory).

Topics are named `bench-scale-<N>x1k` and reused between runs once complete.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.memcap import ROOT as MEMCAP_ROOT
from bench.memcap import MemoryCap, parse_size
from dlq_tui.demo.__main__ import wait_for_leaders
from dlq_tui.kafka.admin import topic_partitions
from dlq_tui.kafka.connection import DlqError

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = os.environ.get("DLQ_TUI_TEST_BOOTSTRAP", "127.0.0.1:9092")
PARTITIONS = 3
HEADERS = [
    ("kafka_dlt-original-topic", b"order-canceled"),
    ("kafka_dlt-original-partition", (1).to_bytes(4, "big")),
    ("kafka_dlt-original-offset", (12345).to_bytes(8, "big")),
    ("kafka_dlt-exception-fqcn", b"org.springframework.kafka.listener.ListenerExecutionFailedException"),
    ("kafka_dlt-exception-message", b"Listener failed; nested exception is java.net.SocketTimeoutException"),
]
REASONS = ["wrong product", "too late", "duplicate"]
REASONS_B = [r.encode() for r in REASONS]
# json.dumps({"orderNumber": key, "reason": reason, "customer": f"C{i % 9973}", "pad": "x" * 800})
VALUE = b'{"orderNumber": "%s", "reason": "%s", "customer": "C%d", "pad": "' + b"x" * 800 + b'"}'


def topic_for(n: int, varying: bool = False) -> str:
    return f"bench-scale-{n}x1k" + ("-varying" if varying else "")


def headers_of(i: int, varying: bool) -> list[tuple[str, bytes]]:
    """The Spring DLT headers; `varying`: as real DLQs carry them, the original offset and a
    tracing id differ per record."""
    if not varying:
        return HEADERS
    return [
        *HEADERS[:2],
        ("kafka_dlt-original-offset", (12345 + i).to_bytes(8, "big")),
        *HEADERS[3:],
        ("traceparent", b"00-%032x-%016x-01" % (i * 7919, i)),
    ]


async def _count(topic: str) -> int | None:
    """Records in `topic` (offsets between log start and end), None if it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        try:
            parts = await topic_partitions(admin, topic)
        except DlqError:
            return None
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, isolation_level="read_committed")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        return int(sum(ends[tp] - begins[tp] for tp in tps))
    finally:
        await consumer.stop()


async def seed(n: int, varying: bool = False) -> str:
    """The N x 1 KB topic: reused when it holds N records, else (re)created and filled."""
    topic = topic_for(n, varying)
    have = await _count(topic)
    if have == n:
        return topic
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        if have is not None:
            await admin.delete_topics([topic])
            while await _count(topic) is not None:
                await asyncio.sleep(0.5)
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs={"retention.ms": "-1"})])
    finally:
        await admin.close()
    await wait_for_leaders(BOOTSTRAP, [topic])
    print(f"  seeding {topic} ({n:,} records of ~1 KB) ...", flush=True)
    t0 = time.perf_counter()
    await _fill(topic, n, varying)
    print(f"  seeded in {time.perf_counter() - t0:.0f} s", flush=True)
    return topic


def record(i: int) -> tuple[bytes, bytes]:
    """Key and value of record `i`: the same bytes as `json.dumps` of the record's dict, made by a
    template (json.dumps per record was most of the seeding time at 10M)."""
    key = b"ORD%010d" % i
    return key, VALUE % (key, REASONS_B[i % 3], i % 9973)


async def _fill(topic: str, n: int, varying: bool = False) -> None:
    """Write records 0..n-1 (record i to partition i % 3) as whole 1 MB batches, a few in flight:
    no future and no accumulator work per record."""
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, max_batch_size=1024 * 1024, acks=1, max_request_size=8 << 20
    )
    await producer.start()
    try:
        in_flight: list[asyncio.Future[Any]] = []
        batches = [producer.create_batch() for _ in range(PARTITIONS)]
        for i in range(n):
            p = i % PARTITIONS
            key, value = record(i)
            headers = headers_of(i, varying)
            if batches[p].append(timestamp=None, key=key, value=value, headers=headers) is None:
                in_flight.append(await producer.send_batch(batches[p], topic, partition=p))
                batches[p] = producer.create_batch()
                batches[p].append(timestamp=None, key=key, value=value, headers=headers)
                if len(in_flight) >= 24:
                    await asyncio.gather(*in_flight)
                    in_flight.clear()
        for p, batch in enumerate(batches):
            in_flight.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*in_flight)
    finally:
        await producer.stop()


def run_measured(
    cmd: list[str], stdout: Any = subprocess.DEVNULL, cap: MemoryCap | None = None
) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout if captured) of one child process, from os.wait4;
    with `cap`, the child runs inside that memory cgroup."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT, preexec_fn=cap.enter if cap else None
    )
    out = ""
    if stdout is subprocess.PIPE:
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        assert proc.stderr is not None
        raise RuntimeError(f"{cmd[:3]} failed: {proc.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, out


def child(role: str, topic: str, n: int, cap: MemoryCap | None = None) -> dict[str, Any]:
    _, peak, out = run_measured(
        [sys.executable, "-m", "bench.scale_child", role, topic, str(n)], subprocess.PIPE, cap
    )
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss"] = peak
    return result


def _tree_memory_mb(pid: int) -> tuple[float, float]:
    """(PSS, RSS) of `pid` plus its children's (print's workers) in MB: PSS splits the pages the
    two share after the fork, RSS counts them in both; (0, 0) once it is gone."""
    pss = rss = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
    return pss / 1024, rss / 1024


def _tree_cpu(pid: int, into: dict[int, float]) -> None:
    """Record the CPU seconds (user + system) so far of `pid` and of each of its children."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            into[p] = (int(fields[11]) + int(fields[12])) / tick


def critical_cpu(pid: int, cpu: dict[int, float]) -> float:
    """CPU seconds on print's critical path: its own (startup, then waiting) plus its busiest
    worker's (the time print would take with a free core for each process)."""
    workers = [s for p, s in cpu.items() if p != pid]
    return cpu.get(pid, 0.0) + max(workers, default=0.0)


def dlq_tui_print(
    topic: str, workers: str = "", cpu: dict[int, float] | None = None
) -> tuple[float, float, float]:
    """(seconds, peak PSS, peak RSS) of print and its worker processes together, in MB, sampled
    every 50 ms. `workers`: DLQ_TUI_PRINT_WORKERS ("0": one process; "": the default). `cpu`
    receives each process's CPU seconds (the last sample; print's own pid is under key -1)."""
    exe = str(Path(sys.executable).with_name("dlq-tui"))
    group = f"bench-print-{time.time_ns()}"
    cmd = [exe, "print", "-b", BOOTSTRAP, "-g", group, "--format", "jsonl", topic]
    t0 = time.perf_counter()
    env = {**os.environ, "DLQ_TUI_PRINT_WORKERS": workers} if workers else None
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    peak_pss = peak_rss = 0.0
    seen: dict[int, float] = {}
    while proc.poll() is None:
        pss, rss = _tree_memory_mb(proc.pid)
        peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
        _tree_cpu(proc.pid, seen)
        time.sleep(0.05)  # the sampling period of a measurement, not synchronisation
    elapsed = time.perf_counter() - t0
    if cpu is not None:
        cpu.update({(-1 if p == proc.pid else p): s for p, s in seen.items()})
    if proc.returncode != 0:
        assert proc.stderr is not None
        raise RuntimeError(f"print failed: {proc.stderr.read().decode()[-2000:]}")
    return elapsed, peak_pss, peak_rss


def kcat(topic: str) -> tuple[float, float]:
    cmd = ["kcat", "-b", BOOTSTRAP, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J"]
    seconds, peak, _ = run_measured([*cmd, "-X", "isolation.level=read_committed"])
    return seconds, peak


def _cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_print(n: int, varying: bool = False) -> dict[str, Any]:
    topic = asyncio.run(seed(n, varying))
    if varying:
        print("(records with per-record headers: original offset and a tracing id)")
    c0 = _cpu()
    bare = child("aiokafka", topic, n)
    assert bare["records"] == n, bare
    c1 = _cpu()
    split_cpu: dict[int, float] = {}
    p_s, p_pss, p_rss = dlq_tui_print(topic, cpu=split_cpu)
    c2 = _cpu()
    k_s, k_rss = kcat(topic)
    c3 = _cpu()
    one_s, one_pss, _ = dlq_tui_print(topic, workers="0")
    c4 = _cpu()
    b_cpu, p_cpu, k_cpu, one_cpu = c1 - c0, c2 - c1, c3 - c2, c4 - c3
    b_s = bare["seconds"]
    print(
        f"print {n:,} x 1 KB --format jsonl: dlq-tui {n / p_s:,.0f} rec/s, bare aiokafka getmany {n / b_s:,.0f} rec/s, "
        f"kcat -J {n / k_s:,.0f} rec/s; print = {b_s / p_s:.0%} of aiokafka (target >= 60%), "
        f"{k_s / p_s:.0%} of kcat (target >= 40%)"
    )
    print(
        f"print peak memory (print + its workers) PSS {p_pss:.0f} MB, RSS {p_rss:.0f} MB (target <= 150 MB); "
        f"bare aiokafka loop {bare['peak_rss']:.0f} MB, kcat {k_rss:.0f} MB"
    )
    print(
        f"print in one process (DLQ_TUI_PRINT_WORKERS=0): {n / one_s:,.0f} rec/s = {b_s / one_s:.0%} of aiokafka, "
        f"{k_s / one_s:.0%} of kcat; PSS {one_pss:.0f} MB"
    )
    print(
        f"CPU seconds (user + system; the machine's load does not change them much): aiokafka {b_cpu:.1f}, "
        f"kcat {k_cpu:.1f}, print {p_cpu:.1f} (with its workers), print in one process {one_cpu:.1f}; "
        f"one process = {b_cpu / one_cpu:.0%} of aiokafka's CPU rate, {k_cpu / one_cpu:.0%} of kcat's"
    )
    crit = critical_cpu(-1, split_cpu)
    shares = ", ".join(f"{s:.1f}" for p, s in sorted(split_cpu.items()) if p != -1)
    print(
        f"print's critical path (its own CPU {split_cpu.get(-1, 0.0):.1f} s + its busiest worker's; "
        f"workers {shares or '-'}): {crit:.1f} CPU s = {b_cpu / crit:.0%} of aiokafka's CPU, "
        f"{k_cpu / crit:.0%} of kcat's (the rates with a free core per process)"
    )
    return {"n": n, "print": n / p_s, "aiokafka": n / b_s, "kcat": n / k_s}


def bench_app(n: int, cap: MemoryCap | None = None) -> dict[str, Any]:
    topic = asyncio.run(seed(n))
    bare = child("aiokafka", topic, n)
    if cap is not None:
        print(f"the engine runs in {cap.describe()}", flush=True)
    try:
        eng = child("engine", topic, n, cap)
    except RuntimeError:
        if cap is not None and cap.oom_kills():
            print(f"the engine was killed by the OOM killer under {cap.describe()}")
        raise
    if cap is not None:
        print(
            f"memory cgroup: peak charged {cap.peak() / (1 << 20):,.0f} MB of {cap.limit >> 20:,} MB "
            f"(heap + the page cache of the arena file, reclaimable), OOM kills {cap.oom_kills()}"
        )
    assert eng["records"] == n, eng
    b_s, e_s = bare["seconds"], eng["seconds"]
    mem = eng["after_load"]
    after = eng["after_filters"]
    print(
        f"load {n:,} x 1 KB into the engine: {e_s:.1f}s ({n / e_s:,.0f}/s) vs bare aiokafka getmany {b_s:.1f}s "
        f"({n / b_s:,.0f}/s): {b_s / e_s:.0%} (target >= 85%); first rows after {eng['first_rows'] * 1000:.0f} ms "
        f"(bare: {bare['first_rows'] * 1000:.0f} ms)"
    )
    print(
        f"app RSS at {n:,} loaded: {mem['VmRSS']:.0f} MB (heap/anon {mem['RssAnon']:.0f} MB + mapped arena pages "
        f"{mem['RssFile']:.0f} MB), peak {eng['peak_rss']:.0f} MB (target <= 400 MB); after the filters "
        f"{after['VmRSS']:.0f} MB (anon {after['RssAnon']:.0f} MB); bare aiokafka loop peak {bare['peak_rss']:.0f} MB"
    )
    first = eng["first_filter"]
    print(
        f"first filter {first['text']!r} after loading {n:,}, typed while warm() runs (as the app): "
        f"{first['seconds']:.2f}s, {first['matches']:,} matches (target <= 1 s); warm() took {first['warm_seconds']:.2f}s"
    )
    search = eng["bare_search"]
    print(f"baseline: one case fold + bytes.count over every arena chunk of {n:,} rows: {search:.2f}s")
    for text, f in eng["filters"].items():
        print(
            f"filter {text!r} over {n:,}: {f['seconds']:.2f}s = {f['seconds'] / search:.1f}x the bare search, "
            f"{f['matches']:,} matches (target <= 1 s)"
        )
    stalls = eng["load_stalls"]
    print(
        f"while loading {n:,}: event loop blocked p50 {stalls['p50'] * 1000:.0f} ms, p99 {stalls['p99'] * 1000:.0f} ms, "
        f"max {stalls['max'] * 1000:.0f} ms (a keypress waits this long; target <= 16 ms); "
        f"peak heap (anon RSS) {stalls['peak_anon']:.0f} MB"
    )
    live = eng["live_count"]
    for label in ("all", "400k"):
        each = live[label]
        keys = ", ".join(
            f"{live['word'][: i + 1]} " + ("-" if t is None else f"{t:.2f}s")
            for i, t in enumerate(each["per_key"])
        )
        print(
            f"live count typing {live['word']!r} letter by letter over {each['rows']:,} (target <= 0.4 s each): {keys}"
        )
    if "groups" in eng:
        g = eng["groups"]
        print(
            f"failure groups over {n:,}: {g['seconds']:.2f}s first, {g['again']:.2f}s again, "
            f"{g['groups']} groups (target <= 2 s)"
        )
    else:
        print("failure groups: not measured (no TriageSession.groups)")
    return {
        "n": n,
        "engine_rate": n / e_s,
        "aiokafka_rate": n / b_s,
        "engine_rss": eng["after_load"]["VmHWM"],  # the peak while loading, before the filters
        "aiokafka_rss": bare["peak_rss"],
    }


def bench_plot(sizes: list[int], out: Path, known: dict[int, dict[str, Any]] | None = None) -> None:
    """`known`: sizes whose engine and aiokafka figures this run already measured (`bench_app`):
    only kcat is run for them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for n in sizes:
        topic = asyncio.run(seed(n))
        app = (known or {}).get(n)
        if app is None:
            bare = child("aiokafka", topic, n)
            eng = child("engine-load", topic, n)  # RSS after loading, before any filter
            app = {
                "engine_rate": n / eng["seconds"],
                "aiokafka_rate": n / bare["seconds"],
                "engine_rss": eng["peak_rss"],
                "aiokafka_rss": bare["peak_rss"],
            }
        k_s, k_rss = kcat(topic)
        rows.append(
            (
                n,
                app["engine_rate"],
                app["aiokafka_rate"],
                n / k_s,
                app["engine_rss"],
                app["aiokafka_rss"],
                k_rss,
            )
        )
        print(
            f"  {n:>10,}: load dlq-tui {rows[-1][1]:,.0f}/s, aiokafka {rows[-1][2]:,.0f}/s, kcat {rows[-1][3]:,.0f}/s; "
            f"peak RSS {rows[-1][4]:.0f} / {rows[-1][5]:.0f} / {rows[-1][6]:.0f} MB"
        )
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = [r[0] for r in rows]
    for i, label in ((1, "dlq-tui engine"), (2, "bare aiokafka getmany"), (3, "kcat -J")):
        a.plot(xs, [r[i] for r in rows], marker="o", label=label)
        b.plot(xs, [r[i + 3] for r in rows], marker="o", label=label)
    a.set(xscale="log", xlabel="DLQ records (~1 KB)", ylabel="records/s", title="load rate")
    b.set(
        xscale="log",
        yscale="log",
        xlabel="DLQ records (~1 KB)",
        ylabel="peak RSS while loading (MB)",
        title="memory",
    )
    b.axhline(4096, linestyle="--", color="grey", label="a 4 GB machine")
    a.legend()
    b.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"plot written to {out.relative_to(ROOT)}")


def huge_app(limit: str) -> dict[str, Any]:
    """The 10M x 1 KB engine run, inside a real memory limit when the machine allows one."""
    cap = None
    if limit.lower() != "none":
        try:
            cap = MemoryCap.create(parse_size(limit), f"dlq-tui-bench-{os.getpid()}")
        except (OSError, ValueError) as exc:
            print(f"no memory limit for the 10M run ({exc}): RSS is measured, the limit is not tested")
    try:
        result = bench_app(10_000_000, cap)
    finally:
        if cap is not None:
            cap.close()
    huge_tui(limit)
    return result


def huge_tui(limit: str) -> None:
    """The app itself (headless) on the 10M topic, in the same memory limit: first rows, loaded,
    RSS, and keypress to repaint while it loads, warms up and after (`bench_table.py --kafka`)."""
    cmd = [sys.executable, str(ROOT / "bench" / "bench_table.py"), "--kafka", topic_for(10_000_000)]
    if limit.lower() != "none":
        cmd += ["--memory-limit", limit]
    print("the app on 10,000,000 (bench_table.py --kafka):", flush=True)
    try:
        _, peak, out = run_measured(cmd, subprocess.PIPE)
    finally:
        for left in [
            *MEMCAP_ROOT.glob("dlq-tui-bench-table-*"),
            *MEMCAP_ROOT.glob("memory/dlq-tui-bench-table-*"),
        ]:
            with contextlib.suppress(OSError):
                left.rmdir()  # the app's cgroup (it cannot remove its own), empty now
    print(out.rstrip())
    print(f"  app process peak RSS (wait4) {peak:,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--print-records", type=int, default=400_000)
    ap.add_argument(
        "--print-varying", type=int, default=0, help="also print N records whose headers differ per record"
    )
    ap.add_argument("--app-records", type=int, default=1_000_000)
    ap.add_argument("--plot", action="store_true")
    ap.add_argument("--huge", action="store_true", help="also 10M x 1 KB (seeded once, reused)")
    ap.add_argument(
        "--memory-limit",
        default="4G",
        help="with --huge: the 10M engine runs in a memory cgroup of this size (needs root; 'none': no limit)",
    )
    args = ap.parse_args()
    print(f"# dlq-tui incident-scale benchmark, broker {BOOTSTRAP}, {os.cpu_count()} CPUs")
    if args.print_records:
        bench_print(args.print_records)
    if args.print_varying:
        bench_print(args.print_varying, varying=True)
    known: dict[int, dict[str, Any]] = {}
    if args.app_records:
        known[args.app_records] = bench_app(args.app_records)
    if args.huge:
        known[10_000_000] = huge_app(args.memory_limit)
    if args.plot:
        sizes = [10_000, 100_000, 1_000_000] + ([10_000_000] if args.huge else [])
        bench_plot(sizes, ROOT / "docs" / "img" / "performance.png", known)


if __name__ == "__main__":
    main()
