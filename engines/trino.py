"""A Trino cluster over its client REST protocol, on kept-alive Trio connections.

A query is a POST to `/v1/statement` and then GETs of each page's `nextUri` until
there is none; the rows come as JSON and leave as Arrow batches (`trino_rows`). The
pages are fetched on demand, one at a time, so a slow client slows the cluster and
memory stays bounded. Leaving `execute` before the last page (client cancel,
disconnect, timeout) DELETEs the query's `nextUri`, which is how Trino is told to
cancel, under a shield and a deadline so an unreachable coordinator cannot hold the
client up.

Requests that fail with 502/503/504 or a dropped connection are retried with
exponential backoff, as the Trino clients do; the page token in `nextUri` makes a GET
safe to repeat. The session travels as Trino headers: the user (the client's own when
`queryAuth: impersonate` or when qflux has no credentials of its own, else the
service account), catalog and schema, source, client tags and session properties.
"""

from __future__ import annotations

import contextlib
import ssl
import urllib.parse
from base64 import b64encode
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import structlog
import trio

from qflux import __version__
from qflux.core import (
    EngineType,
    ErrorCode,
    FrontendProtocol,
    QueryError,
    Result,
    Session,
    TrinoRows,
)
from qflux.tags import TAG_PROPERTIES, format_tags

from .base import CANCEL_GRACE_SECS, Catalog, Engine
from .http_client import HttpPool, TransportError
from .trino_rows import PageDecoder

if TYPE_CHECKING:
    from qflux.config import ClusterConfig

log = structlog.get_logger("qflux.engines.trino")

RETRY_STATUSES = (502, 503, 504)
RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY_SECS = 0.05
CONNECT_TIMEOUT_SECS = 10.0
#: A page request may long-poll at the coordinator; this bounds a dead one.
READ_TIMEOUT_SECS = 120.0
MAX_CONNECTIONS = 64
_NO_COLUMNS = pa.schema([])  # until the first page with columns (schemas are immutable)

_ERROR_NAMES = {
    "SYNTAX_ERROR": ErrorCode.SYNTAX_ERROR,
    "TABLE_NOT_FOUND": ErrorCode.NOT_FOUND,
    "COLUMN_NOT_FOUND": ErrorCode.NOT_FOUND,
    "SCHEMA_NOT_FOUND": ErrorCode.NOT_FOUND,
    "CATALOG_NOT_FOUND": ErrorCode.NOT_FOUND,
    "FUNCTION_NOT_FOUND": ErrorCode.NOT_FOUND,
    "NOT_SUPPORTED": ErrorCode.NOT_SUPPORTED,
    "INVALID_FUNCTION_ARGUMENT": ErrorCode.INVALID_ARGUMENT,
    "USER_CANCELED": ErrorCode.CANCELLED,
    "EXCEEDED_TIME_LIMIT": ErrorCode.TIMEOUT,
    "QUERY_QUEUE_FULL": ErrorCode.QUEUE_FULL,
}


class TrinoEngine(Engine):
    """A Trino coordinator at `endpoint` (http:// or https://)."""

    engine_type = EngineType.TRINO

    def __init__(self, name: str, config: ClusterConfig) -> None:
        assert config.endpoint is not None  # the config loader requires it
        self.name = name
        self.endpoint = config.endpoint.rstrip("/")
        self.catalog_name = config.catalog
        self.schema_name = config.database
        self._auth = config.auth
        self._impersonate = config.query_auth is not None and config.query_auth.type in (
            "impersonate",
            "passthrough",
        )
        self._ssl_context: ssl.SSLContext | None = None
        if self.endpoint.startswith("https:"):
            tls = config.tls
            self._ssl_context = ssl.create_default_context(cafile=tls.ca_file if tls else None)
            if tls is not None and tls.insecure_skip_verify:
                self._ssl_context.check_hostname = False
                self._ssl_context.verify_mode = ssl.CERT_NONE
        self._pools: dict[str, HttpPool] = {}
        self._statement_url = f"{self.endpoint}/v1/statement"
        self._statement_origin, self._statement_target = _origin_and_target(self._statement_url)
        self._base_headers = [("User-Agent", f"qflux/{__version__}")]
        if self._auth is not None and self._auth.type == "basic":
            pair = f"{self._auth.username or ''}:{self._auth.password or ''}".encode()
            self._base_headers.append(("Authorization", "Basic " + b64encode(pair).decode()))
        elif self._auth is not None and self._auth.type == "bearer":
            self._base_headers.append(("Authorization", f"Bearer {self._auth.token}"))
        self._active = 0

    @property
    def active_calls(self) -> int:
        return self._active

    def _pool(self, origin: str) -> HttpPool:
        """One pool per origin: `nextUri` may name the coordinator by another address."""
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = HttpPool(
                origin,
                ssl_context=self._ssl_context,
                max_connections=MAX_CONNECTIONS,
                connect_timeout=CONNECT_TIMEOUT_SECS,
                read_timeout=READ_TIMEOUT_SECS,
            )
        return pool

    def _headers(self, session: Session) -> dict[str, str]:
        own_user = self._auth.username if self._auth is not None else None
        user = session.user if self._impersonate or not own_user else own_user
        headers = {
            "X-Trino-User": user or own_user or "qflux",
            "X-Trino-Source": session.source or "qflux",
        }
        catalog = session.database or self.catalog_name
        schema = session.schema or self.schema_name
        if catalog:
            headers["X-Trino-Catalog"] = catalog
        if catalog and schema:
            headers["X-Trino-Schema"] = schema
        if session.tags:
            headers["X-Trino-Client-Tags"] = format_tags(session.tags)
        # A PostgreSQL client's properties are its ParameterStatus settings (DateStyle,
        # TimeZone ...), which a coordinator would reject as unknown session properties.
        properties = {
            k: v
            for k, v in session.properties.items()
            if session.protocol is FrontendProtocol.TRINO_HTTP and k not in TAG_PROPERTIES
        }
        if properties:
            headers["X-Trino-Session"] = ",".join(
                f"{k}={urllib.parse.quote(str(v), safe='')}" for k, v in properties.items()
            )
        return headers

    async def _send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        content: bytes,
        shield: bool = False,
    ) -> tuple[int, bytes]:
        if url == self._statement_url:  # every query's POST: split once
            origin, target = self._statement_origin, self._statement_target
        else:
            origin, target = _origin_and_target(url)
        return await self._pool(origin).request(method, target, headers, content, shield=shield)

    async def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        content: bytes = b"",
        *,
        shield: bool = False,
    ) -> dict[str, Any]:
        """One protocol request, retried where Trino's clients retry; the JSON body.
        `shield` protects each exchange once sent (see HttpPool.request)."""
        all_headers = self._base_headers + list((headers or {}).items())
        delay = RETRY_FIRST_DELAY_SECS
        for attempt in range(RETRY_ATTEMPTS):
            last = attempt == RETRY_ATTEMPTS - 1
            try:
                status, body = await self._send(method, url, all_headers, content, shield)
            except TransportError as exc:
                # A POST that may have reached the coordinator is not sent twice.
                if last or (method == "POST" and not exc.unsent):
                    raise QueryError(
                        ErrorCode.ENGINE_ERROR, f"cannot reach cluster '{self.name}': {exc!r}"
                    ) from exc
            else:
                if status not in RETRY_STATUSES or last:
                    return self._body(status, body)
            await trio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _body(self, status: int, content: bytes) -> dict[str, Any]:
        if status != 200:
            detail = content[:500].decode("utf-8", "replace").strip()
            raise QueryError(
                ErrorCode.ENGINE_ERROR,
                f"cluster '{self.name}' answered HTTP {status}: {detail}",
            )
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise QueryError(
                ErrorCode.ENGINE_ERROR, f"cluster '{self.name}' sent a page that is not JSON"
            ) from exc
        if not isinstance(body, dict):
            raise QueryError(
                ErrorCode.ENGINE_ERROR, f"cluster '{self.name}' sent a page that is not an object"
            )
        error = body.get("error")
        if error:
            raise _query_error(error)
        return body

    def execute(self, sql: str, session: Session) -> AbstractAsyncContextManager[Result]:
        return _TrinoStatement(self, sql, session)

    async def _cancel(self, next_uri: str) -> None:
        """DELETE the query at the coordinator, whatever cancelled us."""
        with trio.move_on_after(CANCEL_GRACE_SECS) as scope:
            scope.shield = True
            with contextlib.suppress(TransportError):
                await self._send("DELETE", next_uri, self._base_headers, b"")
        if scope.cancelled_caught:
            log.warning("cluster did not confirm the cancel", cluster=self.name)

    async def health_check(self, query: str | None = None) -> None:
        if query is None:
            info = await self._request("GET", f"{self.endpoint}/v1/info")
            if info.get("starting"):
                raise QueryError(ErrorCode.ENGINE_ERROR, f"cluster '{self.name}' is starting")
            return
        session = Session(protocol=_HEALTH_PROTOCOL, user="qflux-health")
        async with self.execute(query, session) as result:
            async for _ in result:
                pass

    async def catalog(self) -> Catalog:
        """Columns from `information_schema` of the configured catalog (or the
        coordinator's default for the service user)."""
        prefix = f'"{self.catalog_name}".' if self.catalog_name else ""
        sql = (
            "SELECT table_catalog, table_schema, table_name, column_name, data_type"
            f" FROM {prefix}information_schema.columns"
            " WHERE table_schema <> 'information_schema'"
            " ORDER BY table_catalog, table_schema, table_name, ordinal_position"
        )
        session = Session(protocol=_HEALTH_PROTOCOL, user="qflux-catalog")
        tables: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        async with self.execute(sql, session) as result:
            async for batch in result:
                for catalog, schema, table, column, data_type in zip(
                    *(batch.column(i).to_pylist() for i in range(5)), strict=True
                ):
                    tables.setdefault(catalog, {}).setdefault(schema, {}).setdefault(table, {})[
                        column
                    ] = data_type
        default_catalog = self.catalog_name or next(iter(tables), None)
        return Catalog(tables, "trino", default_catalog, self.schema_name)

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.close()


class _TrinoStatement:
    """`TrinoEngine.execute`'s context manager (a class: every query enters one).

    The POST is shielded once sent: a cancel landing while it is in flight would leave
    the cluster running a query whose id never arrived, so nothing could DELETE it.
    The POST finishes (bounded by the read timeout; a coordinator answers it at once),
    then the cancel takes effect at the next checkpoint, after the id is kept, and
    leaving deletes the query if it has pages left.
    """

    def __init__(self, engine: TrinoEngine, sql: str, session: Session) -> None:
        self._engine = engine
        self._sql = sql
        self._session = session
        self._result: _TrinoResult | None = None

    async def __aenter__(self) -> Result:
        engine = self._engine
        engine._active += 1
        result = self._result = _TrinoResult(engine)
        try:
            page = await engine._request(
                "POST",
                engine._statement_url,
                content=self._sql.encode(),
                headers=engine._headers(self._session),
                shield=True,
            )
            await result.start(page)
        except BaseException:
            await self._leave()
            raise
        return result

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._leave()

    async def _leave(self) -> None:
        try:
            if self._result is not None and self._result.next_uri is not None:
                await self._engine._cancel(self._result.next_uri)
        finally:
            self._engine._active -= 1


class _TrinoResult(Result):
    """Pages fetched as the frontend pulls them; `next_uri` is None once finished.

    Rows stay in the cluster's JSON until asked for: `batches()` decodes them to Arrow,
    `trino_rows()` hands them on as they are, for a client that speaks Trino itself.
    """

    def __init__(self, engine: TrinoEngine) -> None:
        self._engine = engine
        self._decoder: PageDecoder | None = None
        self._ahead: list[list[list[Any]]] = []  # pages of rows not yet handed on
        self.next_uri: str | None = None
        self.schema = _NO_COLUMNS

    async def start(self, page: dict[str, Any]) -> None:
        """Follow pages until the columns are known (the schema) or the query ends."""
        self._take(page)
        while self._decoder is None and self.next_uri is not None:
            self._take(await self._engine._request("GET", self.next_uri))

    def _take(self, page: dict[str, Any]) -> None:
        self.next_uri = page.get("nextUri")
        if self._decoder is None and page.get("columns"):
            self.trino_columns = page["columns"]
            self._decoder = PageDecoder.from_columns(page["columns"])
            self.schema = self._decoder.schema
        if page.get("updateCount") is not None:
            self.update_count = int(page["updateCount"])
        if page.get("data"):
            self._ahead.append(page["data"])

    async def _next_rows(self) -> list[list[Any]] | None:
        """The next page's rows, fetched when none is ahead; None once there are no more.
        A coroutine, not a generator the iterators below would each wrap."""
        while not self._ahead:
            if self.next_uri is None:
                return None
            self._take(await self._engine._request("GET", self.next_uri))
        return self._ahead.pop(0)

    async def batches(self) -> AsyncIterator[pa.RecordBatch]:
        while (rows := await self._next_rows()) is not None:
            if self._decoder is None:
                continue
            try:
                yield self._decoder.batch(rows)
            except (ValueError, TypeError, pa.ArrowException) as exc:
                raise QueryError(
                    ErrorCode.ENGINE_ERROR,
                    f"cannot read a page from cluster '{self._engine.name}': {exc}",
                ) from exc

    async def trino_rows(self) -> AsyncIterator[TrinoRows]:
        while (rows := await self._next_rows()) is not None:
            yield TrinoRows(orjson.dumps(rows), len(rows))


def _origin_and_target(url: str) -> tuple[str, str]:
    """`scheme://host:port` and the request target (path and query) of a URL."""
    scheme, netloc, path, query, _ = urllib.parse.urlsplit(url)
    return f"{scheme}://{netloc}", f"{path or '/'}?{query}" if query else path or "/"


def _query_error(error: dict[str, Any]) -> QueryError:
    name = str(error.get("errorName", ""))
    code = _ERROR_NAMES.get(name)
    if code is None:
        code = (
            ErrorCode.SEMANTIC_ERROR
            if error.get("errorType") == "USER_ERROR"
            else ErrorCode.ENGINE_ERROR
        )
    return QueryError(code, str(error.get("message") or name or "query failed"))


#: Queries qflux sends on its own behalf (health probes, catalog discovery).
_HEALTH_PROTOCOL = FrontendProtocol.TRINO_HTTP
