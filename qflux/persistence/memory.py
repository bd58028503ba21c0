"""In-memory query history: bounded, newest kept, O(1) insert and lookup."""

from __future__ import annotations

from collections import OrderedDict

from qflux.core import QueryId, QueryRecord


class InMemoryHistory:
    def __init__(self, max_records: int = 10_000) -> None:
        self.max_records = max_records
        self._records: OrderedDict[QueryId, QueryRecord] = OrderedDict()

    def add(self, record: QueryRecord) -> None:
        """Store a record at query start; it is updated in place as the query runs."""
        self._records[record.id] = record
        while len(self._records) > self.max_records:
            self._records.popitem(last=False)

    def get(self, query_id: str) -> QueryRecord | None:
        return self._records.get(QueryId(query_id))

    def recent(self, limit: int = 100) -> list[QueryRecord]:
        """Newest first."""
        out: list[QueryRecord] = []
        for record in reversed(self._records.values()):
            if len(out) >= limit:
                break
            out.append(record)
        return out

    def __len__(self) -> int:
        return len(self._records)
