"""Command-line options of safe redrive (docs/redrive.md) and the `history` command's parser."""

from __future__ import annotations

import argparse
from typing import Any


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def add_redrive_options(parser: argparse.ArgumentParser, command: str) -> None:
    """`--max-rate`, `--audit-topic`, `--reason`, `--operator` (commands that write) and
    `--canary`, `--canary-wait`, `--origin-partition` (commands that merge)."""
    red = parser.add_argument_group("safe redrive (docs/redrive.md)")
    red.add_argument(
        "--max-rate",
        type=positive_number,
        metavar="N",
        help="write at most N merges/purges per second, in several transactions each complete with its offsets",
    )
    red.add_argument(
        "--audit-topic",
        metavar="TOPIC",
        help="write one JSON audit record per merge and purge to TOPIC, in the same transaction",
    )
    red.add_argument("--reason", metavar="TEXT", help="why (goes into the audit records)")
    red.add_argument("--operator", metavar="USER@HOST", help="who, in the audit records (default: user@host)")
    if command in ("ask", "merge-all"):
        red.add_argument(
            "--canary",
            type=non_negative_int,
            metavar="N",
            default=0,
            help="merge the first N records in their own transaction, then watch the DLQ before the rest",
        )
        red.add_argument(
            "--canary-wait",
            type=positive_number,
            metavar="SECONDS",
            default=60.0,
            help="how long to watch the DLQ for the canary coming back (default 60)",
        )
        red.add_argument(
            "--origin-partition",
            action="store_true",
            default=None,
            help="with DESTINATION @origin: write to the origin partition from the headers "
            "(default: the default partitioner on the key)",
        )


def add_history_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audit-topic", metavar="TOPIC", help="the audit topic (or the audit_topic setting)")
    parser.add_argument(
        "--where",
        metavar="FILTER",
        default="",
        help="only audit records matching FILTER, e.g. value.decision:merge value.operator:alice*",
    )
    parser.add_argument("--format", choices=["table", "jsonl"], default="table")
    parser.add_argument("--limit", type=int, metavar="N", default=0, help="at most N records")


def redrive_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given by the redrive options (None: not given)."""
    return {
        "max_rate": getattr(args, "max_rate", None),
        "audit_topic": getattr(args, "audit_topic", None),
        "operator": getattr(args, "operator", None),
        "origin_partition": getattr(args, "origin_partition", None),
    }
