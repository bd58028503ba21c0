"""The small set of types that frontends, routers, dispatch and engines share.

Everything protocol-specific stays in its frontend; everything engine-specific in its
engine. What crosses the boundary is a Session, SQL text, a Result of Arrow batches,
and a QueryError whose ErrorCode each frontend maps to its own wire error.
"""

from __future__ import annotations

import enum
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, NewType

import attrs
import pyarrow as pa

QueryId = NewType("QueryId", str)


class FrontendProtocol(enum.StrEnum):
    """The wire protocol a client spoke; also the key used by the protocolBased router."""

    TRINO_HTTP = "trinoHttp"
    POSTGRES_WIRE = "postgresWire"
    MYSQL_WIRE = "mysqlWire"
    CLICKHOUSE_HTTP = "clickhouseHttp"
    FLIGHT_SQL = "flightSql"


class EngineType(enum.StrEnum):
    """Backend engine kinds, spelled as in the config file's `engine:` key."""

    TRINO = "trino"
    DUCKDB = "duckDb"
    STARROCKS = "starRocks"
    CLICKHOUSE = "clickHouse"
    POSTGRES = "postgres"
    ATHENA = "athena"


class CancelReason(enum.StrEnum):
    """Why a query's cancel scope was cancelled; recorded in the query history."""

    CLIENT_DISCONNECT = "client_disconnect"
    CLIENT_CANCEL = "client_cancel"
    CLIENT_ABANDONED = "client_abandoned"
    TIMEOUT = "timeout"
    SHUTDOWN = "shutdown"
    ADMIN = "admin"


class QueryStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class ErrorCode(enum.Enum):
    """Protocol-neutral error classes: (Trino errorName, Trino errorType, SQLSTATE).

    Frontends map each to their own wire error; `user_error` says whether the client
    (not the system) is at fault, which Trino reports as errorType USER_ERROR.
    """

    SYNTAX_ERROR = ("SYNTAX_ERROR", "USER_ERROR", "42601")
    SEMANTIC_ERROR = ("GENERIC_USER_ERROR", "USER_ERROR", "42000")
    NOT_FOUND = ("TABLE_NOT_FOUND", "USER_ERROR", "42P01")
    NOT_SUPPORTED = ("NOT_SUPPORTED", "USER_ERROR", "0A000")
    INVALID_ARGUMENT = ("INVALID_FUNCTION_ARGUMENT", "USER_ERROR", "22023")
    CANCELLED = ("USER_CANCELED", "USER_ERROR", "57014")
    ABANDONED = ("ABANDONED_QUERY", "USER_ERROR", "57014")
    QUEUE_FULL = ("QUERY_QUEUE_FULL", "INSUFFICIENT_RESOURCES", "53300")
    QUEUE_TIMEOUT = ("EXCEEDED_TIME_LIMIT", "INSUFFICIENT_RESOURCES", "53000")
    TIMEOUT = ("EXCEEDED_TIME_LIMIT", "INSUFFICIENT_RESOURCES", "57014")
    NO_HEALTHY_CLUSTER = ("NO_NODES_AVAILABLE", "INTERNAL_ERROR", "08006")
    ROUTING_FAILED = ("GENERIC_INTERNAL_ERROR", "INTERNAL_ERROR", "F0000")
    SHUTTING_DOWN = ("SERVER_SHUTTING_DOWN", "INTERNAL_ERROR", "57P01")
    ENGINE_ERROR = ("GENERIC_INTERNAL_ERROR", "INTERNAL_ERROR", "58000")
    INTERNAL = ("GENERIC_INTERNAL_ERROR", "INTERNAL_ERROR", "XX000")

    @property
    def error_name(self) -> str:
        return self.value[0]

    @property
    def error_type(self) -> str:
        return self.value[1]

    @property
    def sqlstate(self) -> str:
        return self.value[2]

    @property
    def user_error(self) -> bool:
        return self.value[1] == "USER_ERROR"


class QueryError(Exception):
    """A failure the client should see, with a protocol-neutral code."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        cause_type: str | None = None,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.cause_type = cause_type or type(self).__name__
        #: A PostgreSQL server's own SQLSTATE for this error, which a PostgreSQL-wire
        #: client gets rather than the one `code` stands for (22012, not 22023).
        self.sqlstate = sqlstate


def unwrap_group(group: BaseException) -> BaseException:
    """The exception inside a group of one (Trio nurseries wrap even a single error)."""
    while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
        group = group.exceptions[0]
    return group


class UtcSecondFormat:
    """`time.strftime(fmt)` of a UTC second, formatted once per second: a query id and
    a log line are made per query, and strftime costs more than the rest of either."""

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt
        self._last: tuple[int, str] = (-1, "")  # one tuple: a reader sees a matching pair

    def __call__(self, second: int) -> str:
        last = self._last
        if last[0] != second:
            last = self._last = (second, time.strftime(self._fmt, time.gmtime(second)))
        return last[1]


class RandomHex:
    """Hex digits from the operating system's secure source, read 4 KB at a time: a
    query takes two random strings, and a system call for each cost more than the rest
    of making either."""

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._buffer = b""
        self._at = 0

    def __call__(self, nbytes: int) -> str:
        if self._at + nbytes > len(self._buffer):
            self._buffer, self._at = secrets.token_bytes(max(self._chunk, nbytes)), 0
        start, self._at = self._at, self._at + nbytes
        return self._buffer[start : self._at].hex()


random_hex = RandomHex()
_query_counter = itertools.count(1)
_query_id_stamp = UtcSecondFormat("%Y%m%d_%H%M%S")


def new_query_id() -> QueryId:
    """A Trino-shaped id (`20260101_120000_00001_ab3cd`): sortable, unique per process."""
    stamp = _query_id_stamp(int(time.time()))
    seq = next(_query_counter) % 100_000
    return QueryId(f"{stamp}_{seq:05d}_{random_hex(3)[:5]}")


@attrs.frozen
class Session:
    """Who is asking, over what, with which client settings. Built once per query."""

    protocol: FrontendProtocol
    user: str | None = None
    database: str | None = None
    schema: str | None = None
    source: str | None = None
    tags: Mapping[str, str | None] = attrs.field(factory=dict)  # see qflux.tags
    properties: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    client_address: str | None = None
    #: The frontend takes a PostgreSQL server's own text rows (`Result.pg_rows`) when the
    #: engine can give them: a PostgreSQL-wire client asking text results.
    pg_rows: bool = False

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (frontends store names lower-cased)."""
        return self.headers.get(name.lower())


@attrs.frozen
class RoutingStep:
    router: str
    matched: bool
    group: str | None = None
    detail: str = ""


@attrs.frozen
class RoutingTrace:
    """How the router chain arrived at a group; stored with the query record."""

    group: str
    fallback_used: bool
    steps: tuple[RoutingStep, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "fallbackUsed": self.fallback_used,
            "steps": [attrs.asdict(step) for step in self.steps],
        }


class Result:
    """A query's result: an Arrow schema plus an async stream of record batches.

    Engines subclass this; frontends only iterate. Batches are produced on demand, so
    a consumer that stops pulling stops the engine (bounded memory end to end).
    """

    schema: pa.Schema
    update_count: int | None = None
    #: A Trino cluster's own result `columns`, when its rows can go to a Trino client
    #: exactly as the cluster wrote them (`trino_rows`); None for every other engine.
    trino_columns: list[dict[str, Any]] | None = None
    #: A PostgreSQL server's RowDescription message as it was sent (b"" for a statement
    #: without rows), when its rows go to a PostgreSQL-wire client as the server wrote
    #: them (`pg_rows`); None otherwise.
    pg_row_description: bytes | None = None
    #: That statement's CommandComplete tag, known once its rows are read.
    command_tag: str | None = None

    def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        return self.batches()

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def trino_rows(self) -> AsyncIterator[TrinoRows]:
        """The rows in the Trino cluster's JSON, page by page (with `trino_columns`)."""
        raise NotImplementedError
        yield  # pragma: no cover

    async def pg_rows(self) -> AsyncIterator[PgRows]:
        """The rows in the PostgreSQL server's DataRow messages."""
        raise NotImplementedError
        yield  # pragma: no cover


@attrs.frozen
class PgRows:
    """DataRow messages as a PostgreSQL server wrote them, and how many (a notice the
    server sent among them is forwarded in its place, counting no row)."""

    encoded: bytes
    count: int


@attrs.frozen
class TrinoRows:
    """Rows as a Trino server writes them: a JSON array of row arrays."""

    json: bytes
    count: int


@attrs.define
class QueryRecord:
    """One line of query history. Mutated while the query runs; frozen in spirit after."""

    id: QueryId
    protocol: FrontendProtocol
    sql: str
    user: str | None = None
    group: str | None = None
    cluster: str | None = None
    engine: EngineType | None = None
    status: QueryStatus = QueryStatus.QUEUED
    error: str | None = None
    error_code: str | None = None
    cancel_reason: CancelReason | None = None
    routing_trace: RoutingTrace | None = None
    queue_ms: float = 0.0
    execution_ms: float = 0.0
    rows_returned: int = 0
    created_at: float = attrs.field(factory=time.time)
    source_dialect: str | None = None
    target_dialect: str | None = None
    translated: bool = False
    translated_sql: str | None = None
    translation_ms: float = 0.0
    translation_note: str | None = None  # why not translated, or sqlglot's warnings

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "protocol": str(self.protocol),
            "sql": self.sql,
            "user": self.user,
            "group": self.group,
            "cluster": self.cluster,
            "engine": str(self.engine) if self.engine else None,
            "status": str(self.status),
            "error": self.error,
            "errorCode": self.error_code,
            "cancelReason": str(self.cancel_reason) if self.cancel_reason else None,
            "routingTrace": self.routing_trace.to_json() if self.routing_trace else None,
            "queueMs": round(self.queue_ms, 3),
            "executionMs": round(self.execution_ms, 3),
            "rowsReturned": self.rows_returned,
            "createdAt": self.created_at,
            "sourceDialect": self.source_dialect,
            "targetDialect": self.target_dialect,
            "translated": self.translated,
            "translatedSql": self.translated_sql,
            "translationMs": round(self.translation_ms, 3),
            "translationNote": self.translation_note,
        }
