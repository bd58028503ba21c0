"""The `qflux` command: a thin shell over `qflux.server`.

qflux serve [-c FILE] [--trino-port N] [--admin-port N] [--host ADDR]
qflux check FILE [--print]
qflux route -c FILE [--protocol P] [--user U] [--header K=V]... [--tag T]... SQL
qflux translate --from DIALECT --to DIALECT SQL
qflux version
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any

import structlog
import trio
from sqlglot.dialects.dialect import Dialect

from qflux import __version__
from qflux.config import Config, ConfigError, config_to_dict, default_config, load_config
from qflux.core import FrontendProtocol, QueryError, Session, unwrap_group
from qflux.engines.registry import EngineUnavailable
from qflux.logs import configure_logging
from qflux.routing import RouterChain
from qflux.server import Server, StartupError
from qflux.tags import collect
from qflux.translate import Translator

log = structlog.get_logger("qflux")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qflux", description="A universal SQL proxy and router.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the proxy (embedded DuckDB with no -c)")
    serve.add_argument("-c", "--config", help="YAML config file (QueryFlux format)")
    serve.add_argument("--host", help="address to bind every listener to (default 0.0.0.0)")
    serve.add_argument("--trino-port", type=int, help="Trino HTTP port (default 8080)")
    serve.add_argument("--admin-port", type=int, help="admin API / health port (default 9000)")
    serve.add_argument(
        "--postgres-port", type=int, help="PostgreSQL wire port (enables that frontend)"
    )
    serve.add_argument("--log-format", choices=["auto", "json", "console"])
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=_serve)

    check = commands.add_parser("check", help="validate a config file and list its problems")
    check.add_argument("config", help="YAML config file")
    check.add_argument("--print", action="store_true", help="print the loaded config as YAML")
    check.set_defaults(func=_check)

    route = commands.add_parser(
        "route", help="show which group a query would go to, and why (no engine is started)"
    )
    route.add_argument("-c", "--config", required=True, help="YAML config file")
    route.add_argument(
        "--protocol",
        default=str(FrontendProtocol.TRINO_HTTP),
        choices=[str(p) for p in FrontendProtocol],
    )
    route.add_argument("--user")
    route.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    route.add_argument("--tag", action="append", default=[], metavar="TAG", help="key or key:value")
    route.add_argument("sql")
    route.set_defaults(func=_route)

    translate = commands.add_parser("translate", help="translate SQL between dialects")
    translate.add_argument("--from", dest="source", required=True, help="e.g. trino")
    translate.add_argument("--to", dest="target", required=True, help="e.g. duckdb")
    translate.add_argument("sql")
    translate.set_defaults(func=_translate)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(func=lambda _args: print(f"qflux {__version__}") or 0)
    return parser


def _load(path: str) -> Config | None:
    """The config at `path`, or None after listing its problems on stderr."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def _check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    if args.print:
        import yaml

        print(yaml.safe_dump(_redacted(config_to_dict(config)), sort_keys=False), end="")
    groups = len(config.cluster_groups)
    print(f"{args.config}: OK ({len(config.clusters)} clusters, {groups} groups)")
    return 0


def _route(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    headers = {}
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            print(f"qflux route: --header wants NAME=VALUE, got {item!r}", file=sys.stderr)
            return 2
        headers[name.strip().lower()] = value.strip()
    session = Session(
        protocol=FrontendProtocol(args.protocol),
        user=args.user,
        tags=collect(args.tag),
        headers=headers,
    )
    chain = RouterChain.from_config(config)
    try:
        trace = trio.run(chain.route, args.sql, session)
    except QueryError as exc:
        print(f"qflux route: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(trace.to_json(), indent=2))
    return 0


def _translate(args: argparse.Namespace) -> int:
    """Print the SQL qflux would send; the reason and exit 1 when it cannot translate."""
    source, target = args.source.lower(), args.target.lower()
    known = sorted(name for name in Dialect.classes if name)
    for dialect in (source, target):
        if dialect not in known:
            print(f"qflux translate: unknown dialect {dialect!r}; expected one of "
                  f"{', '.join(known)}", file=sys.stderr)  # fmt: skip
            return 2
    translator = Translator(error_on_unsupported=True, cache_size=0)
    try:
        outcome = translator.translate(args.sql, source, target)
    except QueryError as exc:
        print(f"qflux translate: {exc.message}", file=sys.stderr)
        return 1
    if source != target and not outcome.translated:
        print(f"qflux translate: {outcome.note}", file=sys.stderr)
        return 1
    print(outcome.sql)
    return 0


_SECRET_KEYS = {"password", "token"}


def _redacted(data: Any) -> Any:
    """The config with secrets masked, for printing."""
    if isinstance(data, dict):
        return {
            key: "***" if key in _SECRET_KEYS and value else _redacted(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_redacted(item) for item in data]
    return data


def _serve(args: argparse.Namespace) -> int:
    try:
        config = _with_overrides(
            load_config(args.config) if args.config else default_config(), args
        )
    except ConfigError as exc:
        print(f"qflux: invalid config {args.config or '(default)'}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    qf = config.queryflux
    configure_logging(args.log_format or qf.log_format, args.log_level or qf.log_level)
    try:
        server = Server(config)
        trio.run(_serve_until_signalled, server)
    except (StartupError, EngineUnavailable) as exc:
        print(f"qflux: {exc}", file=sys.stderr)
        return 2
    except BaseExceptionGroup as group:
        error = unwrap_group(group)
        if not isinstance(error, StartupError | EngineUnavailable):
            raise
        print(f"qflux: {error}", file=sys.stderr)
        return 2
    return 0


async def _serve_until_signalled(server: Server) -> None:
    """SIGTERM/SIGINT: drain (grace period), then exit 0. A second signal: stop now."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def on_signals() -> None:
                async for signum in signals:
                    if not server.draining:
                        log.info("shutting down", signal=signal.Signals(signum).name)
                        nursery.start_soon(server.shutdown)
                    else:
                        log.warning("second signal; stopping now")
                        nursery.cancel_scope.cancel()

            await nursery.start(server.run)
            _freeze_startup_objects()
            nursery.start_soon(on_signals)
            await server.closed.wait()
            nursery.cancel_scope.cancel()


def _freeze_startup_objects() -> None:
    """Exempt what start-up made (modules, config, engines: some 100k objects) from
    garbage collection. A full collection otherwise walks them all, a pause of about
    20 ms that would land on whichever query is running; a query's own garbage is
    still collected as before."""
    gc.collect()
    gc.freeze()


def _with_overrides(config: Config, args: argparse.Namespace) -> Config:
    """Apply command-line port/host overrides on top of the file (or default) config."""
    if all(v is None for v in (args.host, args.trino_port, args.admin_port, args.postgres_port)):
        return config
    data: dict[str, Any] = config_to_dict(config)
    qf = data.setdefault("queryflux", {})
    if args.host is not None:
        qf["bindAddress"] = args.host
    if args.trino_port is not None:
        qf.setdefault("frontends", {}).setdefault("trinoHttp", {})["port"] = args.trino_port
    if args.admin_port is not None:
        qf.setdefault("adminApi", {})["port"] = args.admin_port
    if args.postgres_port is not None:
        postgres = qf.setdefault("frontends", {}).setdefault("postgresWire", {})
        postgres.update({"enabled": True, "port": args.postgres_port})
    return load_config(data)


if __name__ == "__main__":
    sys.exit(main())
