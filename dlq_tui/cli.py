"""Command line entry point (placeholder until the engine lands: --version and --help)."""

from __future__ import annotations

import argparse
import sys

from dlq_tui import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlq-tui", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dlq-tui {__version__}")
    parser.parse_args(argv)
    return 2


if __name__ == "__main__":
    sys.exit(main())
