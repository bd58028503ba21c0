"""The Server: one nursery holding the listeners, the admin API and the query tasks.

Start-up binds every port before reporting ready, so a port clash fails fast with a
message naming the port. Shutdown drains: health turns 503 (load balancers stop
sending), new queries are refused, running ones get `shutdownGraceSecs` to finish,
the rest are cancelled (their engines cancel the backend queries), then it closes.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from os import PathLike
from typing import TYPE_CHECKING, Any, cast

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.config import Sockets
from hypercorn.trio.run import worker_serve
from hypercorn.utils import wrap_app

from qflux.admin.app import AdminApp
from qflux.clusters import Cluster, ClusterGroup
from qflux.config import Config, load_config
from qflux.core import CancelReason, unwrap_group
from qflux.dispatch import Dispatcher
from qflux.engines.registry import create_engine
from qflux.frontends.trino_http import TrinoHttpFrontend
from qflux.health import HealthMonitor
from qflux.persistence.memory import InMemoryHistory
from qflux.routing import RouterChain
from qflux.schema_cache import SchemaCache
from qflux.translate import Translator, load_hooks

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

    from qflux.frontends.postgres_wire import PostgresWireFrontend

log = structlog.get_logger("qflux.server")

#: After the grace period, how long cancelled queries get to unwind at their engines.
CANCEL_UNWIND_SECS = 5.0
#: How often shutdown re-checks whether clients have fetched their last rows.
DRAIN_POLL_SECS = 0.05


class StartupError(Exception):
    """The server cannot start (a port is taken, an engine is unavailable)."""


class Server:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.clusters = {
            name: Cluster(name, cluster_config, create_engine(name, cluster_config))
            for name, cluster_config in config.clusters.items()
        }
        self.groups = {
            name: ClusterGroup(
                name, group_config, [self.clusters[member] for member in group_config.members]
            )
            for name, group_config in config.cluster_groups.items()
            if group_config.enabled
        }
        for group in self.groups.values():
            if group.config.overflow_group is not None:
                group.overflow = self.groups[group.config.overflow_group]
        self.health = HealthMonitor(self.clusters.values(), config.queryflux.health_check)
        for group in self.groups.values():
            if group.config.schema_aware_translation:
                for cluster in group.members:
                    cluster.schema_cache = cluster.schema_cache or SchemaCache(
                        cluster.name, cluster.engine, config.translation.schema_ttl_secs
                    )
        self.dispatcher = Dispatcher(
            RouterChain.from_config(config, self.group_loads),
            self.groups,
            InMemoryHistory(config.queryflux.persistence.max_history),
            Translator(
                error_on_unsupported=config.translation.error_on_unsupported,
                cache_size=config.translation.cache_size,
                hooks=load_hooks(config.translation.python_scripts),
                flight_sql_dialect=config.translation.flight_sql_dialect,
            ),
        )
        self.draining = False
        self._addresses: dict[str, tuple[str, int]] = {}
        self._nursery: trio.Nursery | None = None
        self._stopped = trio.Event()
        self.closed = trio.Event()
        frontends = config.queryflux.frontends
        self.trino = TrinoHttpFrontend(
            self.dispatcher,
            frontends.trino_http,
            external_address=config.queryflux.external_address,
        )
        #: Enabled frontends by config name, with the config section each listens by.
        self.frontends: dict[str, tuple[Any, Any]] = {}
        if frontends.trino_http.enabled:
            self.frontends["trinoHttp"] = (self.trino, frontends.trino_http)
        # Imported only when enabled (it is off by default): the PostgreSQL frontend and
        # its catalog, types and wire machine are a fifth of the start-up time.
        self.postgres: PostgresWireFrontend | None = None
        if frontends.postgres_wire.enabled:
            from qflux.frontends.postgres_wire import PostgresWireFrontend

            self.postgres = PostgresWireFrontend(
                self.dispatcher, frontends.postgres_wire, config.auth
            )
            self.frontends["postgresWire"] = (self.postgres, frontends.postgres_wire)

    # -- life cycle -------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Bind, serve until `shutdown()` completes, then release the engines."""
        try:
            listeners, admin_socket = await self._bind()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.dispatcher.finished_lines.run)
                for name, bound in listeners.items():
                    await nursery.start(self.frontends[name][0].serve, bound)
                if admin_socket is not None:
                    await nursery.start(self._serve_admin, admin_socket)
                if self.config.queryflux.health_check.enabled:
                    nursery.start_soon(self.health.run)
                for cluster in self.clusters.values():
                    if cluster.schema_cache is not None:
                        nursery.start_soon(cluster.schema_cache.run)
                log.info(
                    "qflux ready",
                    **{name: f"{host}:{port}" for name, (host, port) in self._addresses.items()},
                )
                task_status.started()
                await self._stopped.wait()
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                for cluster in self.clusters.values():
                    await cluster.engine.aclose()
            self.closed.set()

    async def _bind(
        self,
    ) -> tuple[dict[str, list[trio.SocketListener]], socket.socket | None]:
        """Bind every enabled port up front, so a clash fails before anything runs."""
        qf = self.config.queryflux
        bound: dict[str, list[trio.SocketListener]] = {}
        try:
            for name, (_, section) in self.frontends.items():
                bound[name] = await _listen(
                    name,
                    section.host or qf.bind_address,
                    section.port,
                    f"queryflux.frontends.{name}.port",
                )
                self._addresses[name] = _bound_address(bound[name][0])
            admin_socket = None
            if qf.admin_api.enabled:
                admin_socket = _bind_socket(
                    "adminApi",
                    qf.admin_api.host or qf.bind_address,
                    qf.admin_api.port,
                    "queryflux.adminApi.port",
                )
                self._addresses["adminApi"] = admin_socket.getsockname()[:2]
        except StartupError:
            for listeners in bound.values():
                for listener in listeners:
                    await listener.aclose()
            raise
        return bound, admin_socket

    async def shutdown(self, grace: float | None = None) -> None:
        """Drain and stop. Safe to call more than once."""
        if self._stopped.is_set():
            return
        grace = self.config.queryflux.shutdown_grace_secs if grace is None else grace
        self.draining = True
        self.dispatcher.accepting = False
        running = len(self.dispatcher.active)
        log.info("draining", running=running, grace_secs=grace)
        if not await self._drained(grace):
            log.warning("grace period over; cancelling", running=len(self.dispatcher.active))
            self.dispatcher.cancel_all(CancelReason.SHUTDOWN)
            await self.dispatcher.wait_idle(CANCEL_UNWIND_SECS)
        self._stopped.set()

    async def _drained(self, timeout: float) -> bool:
        """Wait until no query runs and no client still has rows to fetch."""
        with trio.move_on_after(timeout):
            await self.dispatcher.wait_idle()
            while self.trino.undelivered():
                await trio.sleep(DRAIN_POLL_SECS)
            return True
        return False

    # -- introspection ----------------------------------------------------------

    def address(self, name: str) -> tuple[str, int]:
        """(host, port) a listener is bound to, e.g. `address("trinoHttp")`."""
        try:
            return self._addresses[name]
        except KeyError:
            raise KeyError(f"no listener named {name!r}; have {sorted(self._addresses)}") from None

    def url(self, name: str = "trinoHttp") -> str:
        host, port = self.address(name)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    def group_loads(self) -> dict[str, dict[str, Any]]:
        """Live load per group, as routing scripts see it."""
        return {
            name: {
                "running": g.running,
                "queued": g.queued,
                "capacity": g.config.max_running_queries,
            }
            for name, g in self.groups.items()
        }

    def cluster_state(self) -> dict[str, Any]:
        return {
            "groups": {name: group.snapshot() for name, group in self.groups.items()},
            "clusters": {name: cluster.snapshot() for name, cluster in self.clusters.items()},
        }

    async def _serve_admin(
        self, sock: socket.socket, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED
    ) -> None:
        config = HypercornConfig()
        config.accesslog = None
        config.errorlog = None
        sockets = Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])
        await worker_serve(
            wrap_app(cast("ASGIFramework", AdminApp(self)), config.wsgi_max_body_size, "asgi"),
            config,
            sockets=sockets,
            task_status=task_status,
        )


@asynccontextmanager
async def serve(
    config: Config | Mapping[str, Any] | str | PathLike[str] | None = None,
) -> AsyncIterator[Server]:
    """Run qflux inside the caller's Trio run; drains and stops when the block exits.

    `config` may be a Config, a parsed mapping, a YAML path, or None for the embedded
    default. Port 0 binds an ephemeral port: ask `server.address("trinoHttp")`.
    """
    from qflux.config import default_config

    if config is None:
        config = default_config()
    elif not isinstance(config, Config):
        config = load_config(config)
    server = Server(config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            try:
                yield server
            finally:
                with trio.CancelScope(shield=True):
                    await server.shutdown()
    except BaseExceptionGroup as group:
        raise unwrap_group(group) from None


async def _listen(name: str, host: str, port: int, key: str) -> list[trio.SocketListener]:
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise StartupError(_bind_error(name, host, port, key, exc)) from exc


def _bind_socket(name: str, host: str, port: int, key: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise StartupError(_bind_error(name, host, port, key, exc)) from exc
    sock.setblocking(False)
    return sock


def _bind_error(name: str, host: str, port: int, key: str, exc: OSError) -> str:
    flag = {"adminApi": "--admin-port", "postgresWire": "--postgres-port"}.get(name, "--trino-port")
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} ({name}) is already in use on {host}; choose another with "
            f"{flag} PORT or `{key}` in the config"
        )
    return f"cannot listen on {host}:{port} ({name}): {exc.strerror or exc}"


def _bound_address(listener: trio.SocketListener) -> tuple[str, int]:
    host, port = listener.socket.getsockname()[:2]
    return host, port
