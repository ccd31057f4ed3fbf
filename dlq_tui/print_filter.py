"""The filter of a streamed `print`, in one process or in each worker: which decoded records it
keeps, and how many it could not judge (counted for the stderr line, the first reason kept)."""

from __future__ import annotations

from dlq_tui.decode.view import DecodedRecord
from dlq_tui.triage.filter import Filter, parse

__all__ = ["StreamFilter"]


class StreamFilter:
    def __init__(self, where: str) -> None:
        self._filter: Filter | None = parse(where) if where else None
        self.unknown = 0
        """Records the filter could not judge (undecodable where it looks): left out."""
        self.reason: str | None = None
        """Why the first of them could not be decoded."""

    def keeps(self, d: DecodedRecord) -> bool:
        if self._filter is None:
            return True
        verdict = self._filter.evaluate(d)
        if verdict is None:  # undecodable where the filter looks: not known to match
            self.unknown += 1
            self.reason = self.reason or d.undecoded_reason()
        return verdict is True
