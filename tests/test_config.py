"""Tests for qflux.config: loading, defaults, error paths and messages, round trips."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlglot.dialects.dialect import Dialect

from qflux.config import (
    AdminApiConfig,
    AuthConfig,
    ClientTagsRouter,
    ClientTagsRule,
    ClusterAuthConfig,
    ClusterConfig,
    ClusterGroupConfig,
    CompoundCondition,
    CompoundRouter,
    ConditionType,
    Config,
    ConfigError,
    FrontendConfig,
    HeaderRouter,
    HealthCheckConfig,
    PersistenceConfig,
    PgTlsConfig,
    PostgresWireConfig,
    ProtocolBasedRouter,
    PythonScriptRouter,
    QfluxSection,
    QueryRegexRouter,
    RegexRule,
    StaticUser,
    StrategyConfig,
    StrategyType,
    TagsRouter,
    TagsRule,
    TranslationConfig,
    TranslationScript,
    TrinoHttpConfig,
    config_to_dict,
    default_config,
    load_config,
)
from qflux.core import EngineType, FrontendProtocol

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def valid() -> dict[str, Any]:
    """A small valid config, to be broken one key at a time."""
    return {
        "clusters": {
            "a": {"engine": "duckDb", "maxRunningQueries": 2},
            "b": {"engine": "duckDb"},
        },
        "clusterGroups": {"g": {"members": ["a", "b"], "maxRunningQueries": 4}},
        "routingFallback": "g",
    }


def problems_of(raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def with_changes(**sections: Any) -> dict[str, Any]:
    raw = valid()
    raw.update(copy.deepcopy(sections))
    return raw


# --- defaults and the happy path ----------------------------------------------------------


def test_default_config() -> None:
    config = default_config()
    assert config.clusters == {
        "duckdb": ClusterConfig(engine=EngineType.DUCKDB, max_running_queries=8)
    }
    assert config.cluster_groups == {
        "default": ClusterGroupConfig(members=("duckdb",), max_running_queries=8)
    }
    assert config.routing_fallback == "default"
    assert config.routers == ()
    qf = config.queryflux
    assert qf.frontends.trino_http == TrinoHttpConfig()
    assert (qf.frontends.trino_http.enabled, qf.frontends.trino_http.port) == (True, 8080)
    assert qf.frontends.trino_http.client_timeout_secs == 300.0
    assert qf.admin_api == AdminApiConfig(enabled=True, port=9000)
    assert qf.persistence == PersistenceConfig(type="inMemory", max_history=10000)
    assert qf.bind_address == "0.0.0.0"
    assert qf.external_address is None
    assert (qf.shutdown_grace_secs, qf.log_format, qf.log_level) == (30.0, "auto", "info")
    assert config.cluster_groups["default"].strategy == StrategyConfig(StrategyType.ROUND_ROBIN)
    assert config.auth == AuthConfig(provider="none", required=False, users={})
    assert qf.frontends.postgres_wire == PostgresWireConfig(
        enabled=False,
        port=5432,
        host=None,
        max_message_bytes=16 * 1024 * 1024,
        max_statements=1000,
        max_portals=100,
        auth_method=None,
        allow_cleartext_without_tls=False,
        tls=None,
        server_version="16.4",
    )
    assert qf.health_check == HealthCheckConfig(
        enabled=True,
        interval_secs=10.0,
        timeout_secs=5.0,
        unhealthy_threshold=3,
        healthy_threshold=1,
    )
    assert config.translation == TranslationConfig(
        error_on_unsupported=False,
        cache_size=10_000,
        flight_sql_dialect="trino",
        schema_ttl_secs=300.0,
        python_scripts=(),
    )
    assert config.cluster_groups["default"].schema_aware_translation is False


def test_queryflux_section_may_be_omitted() -> None:
    config = load_config(valid())
    assert config.queryflux == QfluxSection()
    assert config.cluster_groups["g"].members == ("a", "b")
    assert config.cluster_groups["g"].max_queued_queries is None
    assert config.cluster_groups["g"].queue_timeout_secs is None
    assert config.clusters["b"].max_running_queries is None


def test_null_sections_count_as_empty() -> None:
    config = load_config(with_changes(queryflux={"adminApi": None, "frontends": None}))
    assert config.queryflux.admin_api == AdminApiConfig()
    assert config.queryflux.frontends.postgres_wire == PostgresWireConfig()


def test_frontend_default_ports_and_host() -> None:
    raw = with_changes(
        queryflux={
            "bindAddress": "127.0.0.1",
            "frontends": {"postgresWire": {"enabled": False}, "trinoHttp": {"host": "::1"}},
        }
    )
    frontends = load_config(raw).queryflux.frontends
    assert frontends.postgres_wire.port == 5432
    assert frontends.mysql_wire.port == 3306
    assert frontends.clickhouse_http.port == 8123
    assert frontends.flight_sql.port == 50051
    assert frontends.trino_http.host == "::1"
    by_protocol = frontends.by_protocol()
    assert by_protocol[FrontendProtocol.TRINO_HTTP] is frontends.trino_http
    assert by_protocol[FrontendProtocol.FLIGHT_SQL].port == 50051


def test_full_config_loads() -> None:
    raw = with_changes(
        queryflux={
            "externalAddress": "https://proxy.example:8443",
            "frontends": {
                "trinoHttp": {
                    "port": 0,
                    "clientTimeoutSecs": 60,
                    "maxPageBytes": 65536,
                    "maxRequestBytes": 1024,
                }
            },
            "adminApi": {"enabled": False, "username": "ops", "password": "s3cret"},
            "shutdownGraceSecs": 5,
            "logFormat": "json",
            "logLevel": "DEBUG",
        },
        clusters={
            "t": {
                "engine": "trino",
                "endpoint": "https://trino:8443",
                "auth": {"type": "basic", "username": "u", "password": "p"},
                "tls": {"insecureSkipVerify": True, "caFile": "/ca.pem"},
                "queryAuth": {"type": "passthrough"},
                "poolSize": 4,
                "catalog": "hive",
                "database": "default",
            },
            "ath": {
                "engine": "athena",
                "region": "eu-west-1",
                "s3OutputLocation": "s3://bucket/out/",
                "workgroup": "primary",
            },
            "d": {"engine": "duckDb", "databasePath": "/data/x.duckdb", "enabled": False},
        },
        clusterGroups={
            "mixed": {
                "members": ["t", "d"],
                "maxRunningQueries": 10,
                "maxQueuedQueries": 0,
                "queueTimeoutSecs": 2.5,
                "strategy": {"type": "engineAffinity", "preference": ["trino", "duckDb"]},
            },
            "spill": {
                "members": ["t", "ath"],
                "maxRunningQueries": 1,
                "strategy": {"type": "weighted", "weights": {"t": 3, "ath": 1}},
            },
        },
        routers=[
            {"type": "protocolBased", "trinoHttp": "mixed", "postgresWire": "spill"},
            {"type": "header", "headerName": "X-Group", "headerValueToGroup": {"s": "spill"}},
        ],
        routingFallback="mixed",
        translation={"errorOnUnsupported": True},
        auth={"provider": "none", "required": True},
        authorization={"provider": "none"},
    )
    config = load_config(raw)
    qf = config.queryflux
    assert qf.frontends.trino_http.port == 0
    assert qf.frontends.trino_http.client_timeout_secs == 60.0
    assert qf.log_format == "json"
    t = config.clusters["t"]
    assert t.engine is EngineType.TRINO
    assert t.auth == ClusterAuthConfig(type="basic", username="u", password="p")
    assert t.tls is not None and t.tls.insecure_skip_verify and t.tls.ca_file == "/ca.pem"
    assert t.query_auth is not None and t.query_auth.type == "passthrough"
    assert config.clusters["ath"].s3_output_location == "s3://bucket/out/"
    mixed = config.cluster_groups["mixed"]
    assert mixed.strategy.type is StrategyType.ENGINE_AFFINITY
    assert mixed.strategy.preference == (EngineType.TRINO, EngineType.DUCKDB)
    assert mixed.max_queued_queries == 0 and mixed.queue_timeout_secs == 2.5
    assert config.cluster_groups["spill"].strategy.weights == {"t": 3, "ath": 1}
    protocol_router, header_router = config.routers
    assert isinstance(protocol_router, ProtocolBasedRouter)
    assert protocol_router.type == "protocolBased"
    assert protocol_router.mapping() == {
        FrontendProtocol.TRINO_HTTP: "mixed",
        FrontendProtocol.POSTGRES_WIRE: "spill",
    }
    assert header_router == HeaderRouter(
        header_name="X-Group", header_value_to_group={"s": "spill"}
    )
    assert header_router.type == "header"
    assert config.translation.error_on_unsupported is True
    assert config.auth.required is True
    assert load_config(config_to_dict(config)) == config


def test_load_from_path_object(tmp_path: Path) -> None:
    path = tmp_path / "qflux.yaml"
    path.write_text(yaml.safe_dump(valid()))
    assert load_config(path) == load_config(str(path)) == load_config(valid())


# --- examples -----------------------------------------------------------------------------


def test_architecture_example_loads() -> None:
    config = load_config(str(EXAMPLES / "queryflux-architecture.yaml"))
    assert config.queryflux.external_address == "http://localhost:8080"
    assert config.queryflux.persistence == PersistenceConfig()
    assert config.queryflux.frontends.flight_sql == FrontendConfig(enabled=False, port=50051)
    assert config.clusters["trino-1"].endpoint == "http://trino:8080"
    assert config.clusters["duckdb-1"].database_path == "/data/analytics.duckdb"
    assert config.cluster_groups["trino-default"].max_running_queries == 100
    assert config.routers[0] == ProtocolBasedRouter(trino_http="trino-default")
    assert config.routers[1] == HeaderRouter(
        header_name="X-Target-Engine", header_value_to_group={"duckdb": "duckdb-local"}
    )
    assert config.routers[2] == PythonScriptRouter(
        script=(
            "def route(query, ctx):\n"
            '    if "big_table" in query:\n'
            '        return "trino-default"\n'
            "    return None\n"
        ),
        script_file=None,
        timeout_ms=100,
    )
    assert config.routing_fallback == "duckdb-local"


def test_minimal_example_loads_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("QFLUX_TRINO_PORT", "QFLUX_ADMIN_PASSWORD", "QFLUX_DUCKDB_PATH"):
        monkeypatch.delenv(var, raising=False)
    config = load_config(EXAMPLES / "minimal-duckdb.yaml")
    group = config.cluster_groups["analytics"]
    assert group.members == ("duckdb-memory", "duckdb-file")
    assert (group.max_running_queries, group.max_queued_queries) == (8, 100)
    assert group.queue_timeout_secs == 60.0
    assert all(c.engine is EngineType.DUCKDB for c in config.clusters.values())
    assert isinstance(config.routers[0], HeaderRouter)
    assert config.routers[1] == QueryRegexRouter(
        rules=(RegexRule(regex=r"(?i)\bread_(parquet|csv)\s*\(", target_group="analytics"),)
    )
    assert config.routers[2] == TagsRouter(
        rules=(TagsRule(tags={"team": "eng", "batch": None}, target_group="analytics"),)
    )
    assert config.queryflux.health_check == HealthCheckConfig()
    assert config.routing_fallback == "analytics"
    assert config.queryflux.frontends.trino_http.port == 8080
    assert config.queryflux.admin_api.password == "admin"
    assert group.schema_aware_translation is False
    translation = config.translation
    assert (translation.cache_size, translation.flight_sql_dialect) == (10_000, "trino")
    assert translation.schema_ttl_secs == 300.0
    assert translation.python_scripts == ()  # hooks run on every query: none by default


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        default_config,
        lambda: load_config(EXAMPLES / "minimal-duckdb.yaml"),
        lambda: load_config(EXAMPLES / "queryflux-architecture.yaml"),
        lambda: load_config(with_changes(queryflux={"persistence": {"inMemory": {}}})),
        lambda: load_config(every_router_type()),
        lambda: load_config(every_translation_option()),
        lambda: load_config(every_postgres_wire_option()),
    ],
)
def test_config_to_dict_round_trips(make: Any) -> None:
    config: Config = make()
    data = config_to_dict(config)
    assert load_config(data) == config
    # Plain data: enums come out as their strings, tuples as lists.
    assert json.loads(json.dumps(data)) == data
    assert yaml.safe_load(yaml.safe_dump(data)) == data


def test_config_to_dict_uses_camel_case_and_tags_routers() -> None:
    config = load_config(
        with_changes(routers=[{"type": "protocolBased", "trinoHttp": "g"}], queryflux={})
    )
    data = config_to_dict(config)
    assert data["clusterGroups"]["g"]["maxRunningQueries"] == 4
    assert data["clusters"]["a"]["engine"] == "duckDb"
    assert type(data["clusters"]["a"]["engine"]) is str
    assert data["queryflux"]["frontends"]["trinoHttp"]["port"] == 8080
    assert data["queryflux"]["persistence"] == {"type": "inMemory", "maxHistory": 10000}
    assert data["routers"][0]["type"] == "protocolBased"
    assert data["routers"][0]["trinoHttp"] == "g"
    assert data["routingFallback"] == "g"


# --- structural errors --------------------------------------------------------------------


def test_unknown_strategy_message_matches_the_design() -> None:
    raw = valid()
    raw["clusterGroups"]["adhoc"] = {
        "members": ["a"],
        "maxRunningQueries": 1,
        "strategy": {"type": "roundrobin"},
    }
    assert problems_of(raw) == [
        "clusterGroups.adhoc.strategy.type: unknown 'roundrobin'; expected one of "
        "roundRobin, leastLoaded, failover, engineAffinity, weighted"
    ]


def test_unknown_engine() -> None:
    raw = valid()
    raw["clusters"]["x"] = {"engine": "foo"}
    assert problems_of(raw) == [
        "clusters.x.engine: unknown 'foo'; expected one of "
        "trino, duckDb, starRocks, clickHouse, postgres, athena"
    ]


def test_required_key_missing() -> None:
    raw = valid()
    raw["clusters"]["x"] = {"enabled": True}
    del raw["clusterGroups"]["g"]["maxRunningQueries"]
    assert problems_of(raw) == [
        "clusters.x.engine: required key missing",
        "clusterGroups.g.maxRunningQueries: required key missing",
    ]


def test_unknown_keys_are_reported_with_their_parent_path() -> None:
    raw = valid()
    raw["clusters"]["a"]["maxRunningQuery"] = 3
    raw["clusters"]["a"]["bogus"] = 1
    raw["queryflux"] = {"frontends": {"trinoHttp": {"max_page_bytes": 5}}}
    raw["clusterGroup"] = {}
    assert problems_of(raw) == [
        "queryflux.frontends.trinoHttp: unknown key 'max_page_bytes'; did you mean 'maxPageBytes'?",
        "clusters.a: unknown key 'maxRunningQuery'; did you mean 'maxRunningQueries'?",
        "clusters.a: unknown key 'bogus'",
        "(top level): unknown key 'clusterGroup'; did you mean 'clusterGroups'?",
    ]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("clusters", "a", "maxRunningQueries"), "abc", "expected an integer, got 'abc'"),
        (("clusters", "a", "maxRunningQueries"), 2.5, "expected an integer, got 2.5"),
        (("clusters", "a", "maxRunningQueries"), True, "expected an integer, got true"),
        (("clusters", "a", "enabled"), "yes", "expected true or false, got 'yes'"),
        (("clusters", "a", "enabled"), 1, "expected true or false, got 1"),
        (
            ("clusters", "a", "endpoint"),
            5,
            "expected a string, got 5; quote it to make it a string",
        ),
        (("clusters", "a", "endpoint"), ["x"], "expected a string, got a list"),
        (("clusterGroups", "g", "members"), "a", "expected a list, got 'a'"),
        (("clusterGroups", "g", "queueTimeoutSecs"), "soon", "expected a number, got 'soon'"),
        (("clusterGroups", "g", "strategy"), "roundRobin", "expected a mapping, got 'roundRobin'"),
        (("clusters", "a", "tls"), [], "expected a mapping, got a list"),
        (("clusters", "a", "auth"), {"type": "kerberos"}, None),
        (("clusterGroups", "g", "maxRunningQueries"), 0, "must be at least 1, got 0"),
        (("clusterGroups", "g", "maxQueuedQueries"), -1, "must be at least 0, got -1"),
        (("clusterGroups", "g", "queueTimeoutSecs"), -0.5, "must be at least 0, got -0.5"),
        (("clusters", "a", "poolSize"), 0, "must be at least 1, got 0"),
    ],
)
def test_value_errors_name_the_path(path: tuple[str, ...], value: Any, message: str | None) -> None:
    raw = valid()
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    if message is None:  # an unknown literal inside a nested section
        assert problems_of(raw) == [
            "clusters.a.auth.type: unknown 'kerberos'; expected one of "
            "basic, bearer, keyPair, accessKey"
        ]
    else:
        assert problems_of(raw) == [f"{'.'.join(path)}: {message}"]


def test_list_items_are_indexed() -> None:
    raw = valid()
    raw["clusterGroups"]["g"]["members"] = ["a", 7]
    raw["clusterGroups"]["g"]["strategy"] = {"type": "engineAffinity", "preference": ["trino", "x"]}
    assert problems_of(raw) == [
        "clusterGroups.g.members[1]: expected a string, got 7; quote it to make it a string",
        "clusterGroups.g.strategy.preference[1]: unknown 'x'; expected one of "
        "trino, duckDb, starRocks, clickHouse, postgres, athena",
    ]


def test_ports_must_be_in_range() -> None:
    raw = with_changes(
        queryflux={"frontends": {"trinoHttp": {"port": 70000}}, "adminApi": {"port": -1}}
    )
    assert problems_of(raw) == [
        "queryflux.frontends.trinoHttp.port: must be between 0 and 65535, got 70000",
        "queryflux.adminApi.port: must be between 0 and 65535, got -1",
    ]


def test_positive_float_and_log_format() -> None:
    raw = with_changes(
        queryflux={"frontends": {"trinoHttp": {"clientTimeoutSecs": 0}}, "logFormat": "xml"}
    )
    assert problems_of(raw) == [
        "queryflux.frontends.trinoHttp.clientTimeoutSecs: must be greater than 0, got 0.0",
        "queryflux.logFormat: unknown 'xml'; expected one of auto, json, console",
    ]


def test_many_problems_are_collected_in_one_pass() -> None:
    raw = valid()
    raw["clusters"]["a"]["engine"] = "oracle"
    raw["clusters"]["b"]["maxRunningQueries"] = "many"
    raw["clusterGroups"]["g"]["strategy"] = {"type": "random"}
    raw["clusterGroups"]["g"]["queueTimeoutSecs"] = float("nan")
    raw["routers"] = [{"type": "queryRegex"}, {"type": "header"}]
    raw["queryflux"] = {"persistence": {"type": "postgres"}}
    assert problems_of(raw) == [
        "queryflux.persistence.type: the postgres persistence is not supported yet",
        "clusters.a.engine: unknown 'oracle'; expected one of "
        "trino, duckDb, starRocks, clickHouse, postgres, athena",
        "clusters.b.maxRunningQueries: expected an integer, got 'many'",
        "clusterGroups.g.queueTimeoutSecs: expected a number, got nan",
        "clusterGroups.g.strategy.type: unknown 'random'; expected one of "
        "roundRobin, leastLoaded, failover, engineAffinity, weighted",
        "routers[0].rules: required key missing",
        "routers[1].headerName: required key missing",
    ]


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    assert problems_of(str(path)) == ["(top level): expected a mapping of sections, got a list"]
    assert problems_of(["a"]) == ["(top level): expected a mapping of sections, got a list"]
    assert (
        problems_of(with_changes(clusters=["a"]))[0] == "clusters: expected a mapping, got a list"
    )


# --- persistence --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "persistence",
    [
        {"type": "inMemory"},
        {"inMemory": {}},
        {"inMemory": None},
        {},
    ],
)
def test_persistence_spellings(persistence: dict[str, Any]) -> None:
    config = load_config(with_changes(queryflux={"persistence": persistence}))
    assert config.queryflux.persistence == PersistenceConfig(type="inMemory", max_history=10000)


def test_persistence_max_history_in_both_spellings() -> None:
    flat = load_config(
        with_changes(queryflux={"persistence": {"type": "inMemory", "maxHistory": 5}})
    )
    nested = load_config(with_changes(queryflux={"persistence": {"inMemory": {"maxHistory": 5}}}))
    assert (
        flat.queryflux.persistence
        == nested.queryflux.persistence
        == PersistenceConfig(max_history=5)
    )


@pytest.mark.parametrize(
    ("persistence", "problem"),
    [
        (
            {"type": "postgres"},
            "queryflux.persistence.type: the postgres persistence is not supported yet",
        ),
        (
            {"type": "redis", "url": "redis://x"},
            "queryflux.persistence.type: the redis persistence is not supported yet",
        ),
        (
            {"postgres": {"databaseUrl": "postgres://x"}},
            "queryflux.persistence.postgres: the postgres persistence is not supported yet",
        ),
        (
            {"redis": {}},
            "queryflux.persistence.redis: the redis persistence is not supported yet",
        ),
        (
            {"type": "sqlite"},
            "queryflux.persistence.type: unknown 'sqlite'; expected one of "
            "inMemory, postgres, redis",
        ),
        (
            {"inMemory": {"maxHistory": "lots"}},
            "queryflux.persistence.inMemory.maxHistory: expected an integer, got 'lots'",
        ),
        (
            {"inMemory": {"size": 1}},
            "queryflux.persistence.inMemory: unknown key 'size'",
        ),
        (
            {"inMemory": {}, "type": "inMemory"},
            "queryflux.persistence: expected either 'type' or one of inMemory, postgres, "
            "redis, got 'inMemory', 'type'",
        ),
    ],
)
def test_persistence_errors(persistence: dict[str, Any], problem: str) -> None:
    assert problems_of(with_changes(queryflux={"persistence": persistence})) == [problem]


# --- frontends and listeners --------------------------------------------------------------


@pytest.mark.parametrize("frontend", ["mysqlWire", "clickhouseHttp", "flightSql"])
def test_other_frontends_are_not_supported_yet(frontend: str) -> None:
    raw = with_changes(queryflux={"frontends": {frontend: {"enabled": True, "port": 15000}}})
    assert problems_of(raw) == [
        f"queryflux.frontends.{frontend}.enabled: the {frontend} frontend is not supported yet"
    ]


def test_port_clash_names_both_paths() -> None:
    raw = with_changes(queryflux={"adminApi": {"port": 8080}})
    assert problems_of(raw) == [
        "queryflux.adminApi.port: port 8080 is already used by queryflux.frontends.trinoHttp.port"
    ]


@pytest.mark.parametrize(
    "queryflux",
    [
        {"frontends": {"trinoHttp": {"port": 0}}, "adminApi": {"port": 0}},  # both ephemeral
        {"adminApi": {"port": 8080, "enabled": False}},
        {"frontends": {"trinoHttp": {"enabled": False}}, "adminApi": {"port": 8080}},
        {"frontends": {"postgresWire": {"port": 8080}}},  # disabled frontend
        {
            "frontends": {"trinoHttp": {"host": "10.0.0.1"}},
            "adminApi": {"host": "127.0.0.1", "port": 8080},
        },
    ],
)
def test_no_port_clash(queryflux: dict[str, Any]) -> None:
    load_config(with_changes(queryflux=queryflux))


def test_port_clash_with_a_wildcard_host() -> None:
    raw = with_changes(
        queryflux={"frontends": {"trinoHttp": {"host": "10.0.0.1"}}, "adminApi": {"port": 8080}}
    )
    assert problems_of(raw) == [
        "queryflux.adminApi.port: port 8080 is already used by queryflux.frontends.trinoHttp.port"
    ]


def test_external_address_and_log_level_are_checked() -> None:
    raw = with_changes(queryflux={"externalAddress": "proxy:8080", "logLevel": "loud"})
    assert problems_of(raw) == [
        "queryflux.externalAddress: expected an http:// or https:// URL, got 'proxy:8080'",
        "queryflux.logLevel: unknown 'loud'; expected one of debug, info, warning, error, critical",
    ]


# --- clusters -----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["trino", "starRocks", "clickHouse", "postgres"])
def test_engines_that_need_an_endpoint(engine: str) -> None:
    raw = valid()
    raw["clusters"]["x"] = {"engine": engine}
    assert problems_of(raw) == [f"clusters.x.endpoint: required for a {engine} cluster"]
    raw["clusters"]["x"]["endpoint"] = "http://host:1234"
    load_config(raw)


def test_athena_needs_a_region_not_an_endpoint() -> None:
    raw = valid()
    raw["clusters"]["x"] = {"engine": "athena"}
    assert problems_of(raw) == ["clusters.x.region: required for an athena cluster"]
    raw["clusters"]["x"]["region"] = "us-east-1"
    assert load_config(raw).clusters["x"].endpoint is None


def test_duckdb_needs_nothing() -> None:
    raw = valid()
    raw["clusters"]["x"] = {"engine": "duckDb"}
    assert load_config(raw).clusters["x"].database_path is None


def test_cluster_auth_requirements() -> None:
    raw = valid()
    raw["clusters"]["a"]["auth"] = {"type": "basic", "password": "p"}
    raw["clusters"]["b"]["auth"] = {"type": "bearer"}
    assert problems_of(raw) == [
        "clusters.a.auth.username: required for auth type basic",
        "clusters.b.auth.token: required for auth type bearer",
    ]


# --- cluster groups -----------------------------------------------------------------------


def test_unknown_member() -> None:
    raw = valid()
    raw["clusterGroups"]["g"]["members"] = ["a", "x"]
    assert problems_of(raw) == [
        "clusterGroups.g.members[1]: unknown cluster 'x'; defined clusters: a, b"
    ]


def test_member_errors() -> None:
    raw = valid()
    raw["clusterGroups"]["g"]["members"] = ["a", "a"]
    raw["clusterGroups"]["h"] = {"members": [], "maxRunningQueries": 1}
    assert problems_of(raw) == [
        "clusterGroups.g.members[1]: cluster 'a' is listed twice",
        "clusterGroups.h.members: must name at least one cluster",
    ]


def test_disabled_member_cluster_is_allowed() -> None:
    raw = valid()
    raw["clusters"]["b"]["enabled"] = False
    assert load_config(raw).clusters["b"].enabled is False


@pytest.mark.parametrize(
    ("strategy", "problems"),
    [
        (
            {"type": "engineAffinity"},
            ["clusterGroups.g.strategy.preference: required for strategy engineAffinity"],
        ),
        (
            {"type": "weighted"},
            ["clusterGroups.g.strategy.weights: required for strategy weighted"],
        ),
        (
            {"type": "weighted", "weights": {"a": 1, "b": 2, "c": 1}},
            ["clusterGroups.g.strategy.weights.c: 'c' is not a member of the group"],
        ),
        (
            {"type": "weighted", "weights": {"a": 1}},
            ["clusterGroups.g.strategy.weights: no weight for member 'b'"],
        ),
        (
            {"type": "weighted", "weights": {"a": 1, "b": 0}},
            ["clusterGroups.g.strategy.weights.b: must be at least 1, got 0"],
        ),
        (
            {"type": "weighted", "weights": {"a": 1, "b": "x"}},
            ["clusterGroups.g.strategy.weights.b: expected an integer, got 'x'"],
        ),
        (
            {"type": "roundRobin", "weights": {"a": 1}},
            ["clusterGroups.g.strategy.weights: only used by strategy weighted"],
        ),
        (
            {"type": "failover", "preference": ["trino"]},
            ["clusterGroups.g.strategy.preference: only used by strategy engineAffinity"],
        ),
        ({"weights": {"a": 1}}, ["clusterGroups.g.strategy.type: required key missing"]),
    ],
)
def test_strategy_errors(strategy: dict[str, Any], problems: list[str]) -> None:
    raw = valid()
    raw["clusterGroups"]["g"]["strategy"] = strategy
    assert problems_of(raw) == problems


@pytest.mark.parametrize(
    "strategy",
    [
        {"type": "roundRobin"},
        {"type": "leastLoaded"},
        {"type": "failover"},
        {"type": "engineAffinity", "preference": ["duckDb"]},
        {"type": "weighted", "weights": {"a": 2, "b": 1}},
    ],
)
def test_valid_strategies(strategy: dict[str, Any]) -> None:
    raw = valid()
    raw["clusterGroups"]["g"]["strategy"] = strategy
    assert load_config(raw).cluster_groups["g"].strategy.type == StrategyType(strategy["type"])


def test_overflow_group_checks() -> None:
    raw = valid()
    groups = raw["clusterGroups"]
    groups["g"]["overflowGroup"] = "nope"
    groups["self"] = {"members": ["a"], "maxRunningQueries": 1, "overflowGroup": "self"}
    groups["off"] = {"members": ["a"], "maxRunningQueries": 1, "enabled": False}
    groups["to-off"] = {"members": ["a"], "maxRunningQueries": 1, "overflowGroup": "off"}
    assert problems_of(raw) == [
        "clusterGroups.g.overflowGroup: unknown group 'nope'; defined groups: g, off, self, to-off",
        "clusterGroups.self.overflowGroup: must name another group, not the group itself",
        "clusterGroups.to-off.overflowGroup: group 'off' is disabled",
    ]


def test_overflow_loop() -> None:
    raw = valid()
    raw["clusterGroups"]["g"]["overflowGroup"] = "h"
    raw["clusterGroups"]["h"] = {"members": ["a"], "maxRunningQueries": 1, "overflowGroup": "g"}
    assert problems_of(raw) == ["clusterGroups.g.overflowGroup: overflow loop: g -> h -> g"]


def test_valid_overflow() -> None:
    raw = valid()
    raw["clusterGroups"]["g"]["overflowGroup"] = "h"
    raw["clusterGroups"]["g"]["overflowAfterSecs"] = 30
    raw["clusterGroups"]["h"] = {"members": ["b"], "maxRunningQueries": 1, "overflowGroup": "i"}
    raw["clusterGroups"]["i"] = {"members": ["a"], "maxRunningQueries": 1}
    groups = load_config(raw).cluster_groups
    assert (groups["g"].overflow_group, groups["g"].overflow_after_secs) == ("h", 30.0)
    assert (groups["h"].overflow_group, groups["h"].overflow_after_secs) == ("i", None)
    assert groups["i"].overflow_group is None


@pytest.mark.parametrize(
    ("group", "problem"),
    [
        ({"overflowAfterSecs": 5}, "clusterGroups.g.overflowAfterSecs: requires overflowGroup"),
        (
            {"overflowAfterSecs": 0, "overflowGroup": "h"},
            "clusterGroups.g.overflowAfterSecs: must be greater than 0, got 0.0",
        ),
        (
            {"overflowAfterSecs": "later", "overflowGroup": "h"},
            "clusterGroups.g.overflowAfterSecs: expected a number, got 'later'",
        ),
    ],
)
def test_overflow_after_secs_errors(group: dict[str, Any], problem: str) -> None:
    raw = valid()
    raw["clusterGroups"]["g"].update(group)
    raw["clusterGroups"]["h"] = {"members": ["b"], "maxRunningQueries": 1}
    assert problems_of(raw) == [problem]


# --- health checks ------------------------------------------------------------------------


def test_health_check_query() -> None:
    raw = valid()
    raw["clusters"]["a"]["healthCheckQuery"] = "SELECT 1"
    config = load_config(raw)
    assert config.clusters["a"].health_check_query == "SELECT 1"
    assert config.clusters["b"].health_check_query is None
    raw["clusters"]["a"]["healthCheckQuery"] = " "
    raw["clusters"]["b"]["healthCheckQuery"] = 1
    assert problems_of(raw) == [
        "clusters.b.healthCheckQuery: expected a string, got 1; quote it to make it a string"
    ]
    raw["clusters"]["b"]["healthCheckQuery"] = "SELECT 1"
    assert problems_of(raw) == ["clusters.a.healthCheckQuery: must not be empty"]


def test_health_check_section() -> None:
    raw = with_changes(
        queryflux={
            "healthCheck": {
                "enabled": False,
                "intervalSecs": 2,
                "timeoutSecs": 7.5,  # longer than the interval: allowed
                "unhealthyThreshold": 1,
                "healthyThreshold": 4,
            }
        }
    )
    assert load_config(raw).queryflux.health_check == HealthCheckConfig(
        enabled=False,
        interval_secs=2.0,
        timeout_secs=7.5,
        unhealthy_threshold=1,
        healthy_threshold=4,
    )
    partial = load_config(with_changes(queryflux={"healthCheck": {"intervalSecs": 30}}))
    assert partial.queryflux.health_check == HealthCheckConfig(interval_secs=30.0)
    empty = load_config(with_changes(queryflux={"healthCheck": None}))
    assert empty.queryflux.health_check == HealthCheckConfig()


def test_health_check_errors() -> None:
    raw = with_changes(
        queryflux={
            "healthCheck": {
                "enabled": "sometimes",
                "intervalSecs": 0,
                "timeoutSecs": -1,
                "unhealthyThreshold": 0,
                "healthyThreshold": 1.5,
                "retries": 3,
            }
        }
    )
    assert problems_of(raw) == [
        "queryflux.healthCheck.enabled: expected true or false, got 'sometimes'",
        "queryflux.healthCheck.intervalSecs: must be greater than 0, got 0.0",
        "queryflux.healthCheck.timeoutSecs: must be greater than 0, got -1.0",
        "queryflux.healthCheck.unhealthyThreshold: must be at least 1, got 0",
        "queryflux.healthCheck.healthyThreshold: expected an integer, got 1.5",
        "queryflux.healthCheck: unknown key 'retries'",
    ]


# --- routers and the fallback -------------------------------------------------------------


def test_unknown_router_type() -> None:
    raw = with_changes(routers=[{"type": "x"}])
    assert problems_of(raw) == [
        "routers[0].type: unknown 'x'; expected one of "
        "protocolBased, header, queryRegex, clientTags, tags, pythonScript, compound"
    ]


def test_router_structure_errors() -> None:
    raw = with_changes(
        routers=[
            {"headerName": "X"},
            {"type": "header"},
            {"type": "protocolBased", "trinoHtp": "g"},
            "protocolBased",
        ]
    )
    assert problems_of(raw) == [
        "routers[0].type: required key missing",
        "routers[1].headerName: required key missing",
        "routers[2]: unknown key 'trinoHtp'; did you mean 'trinoHttp'?",
        "routers[3]: expected a mapping, got 'protocolBased'",
    ]


def test_router_group_references() -> None:
    raw = valid()
    raw["clusterGroups"]["off"] = {"members": ["a"], "maxRunningQueries": 1, "enabled": False}
    raw["routers"] = [
        {"type": "protocolBased", "trinoHttp": "nope", "mysqlWire": "off"},
        {"type": "header", "headerName": "X", "headerValueToGroup": {"duckdb": "gone", "g": "g"}},
        {"type": "header", "headerName": " "},
    ]
    assert problems_of(raw) == [
        "routers[0].trinoHttp: unknown group 'nope'; defined groups: g, off",
        "routers[0].mysqlWire: group 'off' is disabled",
        "routers[1].headerValueToGroup.duckdb: unknown group 'gone'; defined groups: g, off",
        "routers[2].headerName: must not be empty",
    ]


def test_routing_fallback_references() -> None:
    raw = valid()
    raw["routingFallback"] = "nope"
    assert problems_of(raw) == ["routingFallback: unknown group 'nope'; defined groups: g"]
    raw["clusterGroups"]["g"]["enabled"] = False
    raw["routingFallback"] = "g"
    assert problems_of(raw) == ["routingFallback: group 'g' is disabled"]


def test_routing_fallback_required_only_without_groups() -> None:
    raw = valid()
    del raw["routingFallback"]
    assert load_config(raw).routing_fallback is None
    assert problems_of({}) == ["routingFallback: required"]


# --- router types -----------------------------------------------------------------------

ROUTE_SCRIPT = "def route(query, ctx):\n    return 'g' if 'big' in query else None\n"


def every_router_type() -> dict[str, Any]:
    """One router of each type, with every option set; routers[i] is of the i-th type."""
    raw = valid()
    raw["clusterGroups"]["h"] = {"members": ["b"], "maxRunningQueries": 1}
    raw["routers"] = [
        {"type": "protocolBased", "trinoHttp": "g", "flightSql": "h"},
        {"type": "header", "headerName": "X-Group", "headerValueToGroup": {"h": "h"}},
        {
            "type": "queryRegex",
            "rules": [
                {"regex": r"(?i)^\s*insert\b", "targetGroup": "h"},
                {"regex": "big_table", "targetGroup": "g"},
            ],
        },
        {
            "type": "clientTags",
            "rules": [
                {"tags": ["etl", "team:eng"], "targetGroup": "h"},
                {"tags": ["adhoc"], "targetGroup": "g"},
            ],
        },
        {
            "type": "tags",
            "rules": [
                {"tags": {"team": "eng", "batch": None}, "targetGroup": "h"},
                {"tags": {"priority": "low"}, "targetGroup": "g"},
            ],
        },
        {"type": "pythonScript", "script": ROUTE_SCRIPT, "timeoutMs": 250},
        {
            "type": "compound",
            "targetGroup": "h",
            "combine": "any",
            "conditions": [
                {"type": "protocol", "protocol": "postgresWire"},
                {"type": "header", "headerName": "X-Batch", "headerValue": "1"},
                {"type": "user", "username": "etl-bot"},
                {"type": "clientTag", "tag": "team:eng"},
                {"type": "queryRegex", "regex": "(?i)^select"},
            ],
        },
    ]
    return raw


def test_every_router_type_loads() -> None:
    routers = load_config(every_router_type()).routers
    assert [r.type for r in routers] == [
        "protocolBased",
        "header",
        "queryRegex",
        "clientTags",
        "tags",
        "pythonScript",
        "compound",
    ]
    assert routers[2] == QueryRegexRouter(
        rules=(
            RegexRule(regex=r"(?i)^\s*insert\b", target_group="h"),
            RegexRule(regex="big_table", target_group="g"),
        )
    )
    assert routers[3] == ClientTagsRouter(
        rules=(
            ClientTagsRule(tags=("etl", "team:eng"), target_group="h"),
            ClientTagsRule(tags=("adhoc",), target_group="g"),
        )
    )
    assert routers[4] == TagsRouter(
        rules=(
            TagsRule(tags={"team": "eng", "batch": None}, target_group="h"),
            TagsRule(tags={"priority": "low"}, target_group="g"),
        )
    )
    assert routers[5] == PythonScriptRouter(script=ROUTE_SCRIPT, script_file=None, timeout_ms=250)
    assert routers[6] == CompoundRouter(
        target_group="h",
        combine="any",
        conditions=(
            CompoundCondition(ConditionType.PROTOCOL, protocol=FrontendProtocol.POSTGRES_WIRE),
            CompoundCondition(ConditionType.HEADER, header_name="X-Batch", header_value="1"),
            CompoundCondition(ConditionType.USER, username="etl-bot"),
            CompoundCondition(ConditionType.CLIENT_TAG, tag="team:eng"),
            CompoundCondition(ConditionType.QUERY_REGEX, regex="(?i)^select"),
        ),
    )
    assert routers[6].conditions[0].type is ConditionType.PROTOCOL


def test_router_defaults() -> None:
    raw = with_changes(
        routers=[
            {"type": "pythonScript", "script": ROUTE_SCRIPT},
            {
                "type": "compound",
                "targetGroup": "g",
                "conditions": [{"type": "user", "username": "u"}],
            },
        ]
    )
    script_router, compound = load_config(raw).routers
    assert isinstance(script_router, PythonScriptRouter)
    assert (script_router.script_file, script_router.timeout_ms) == (None, 100)
    assert isinstance(compound, CompoundRouter)
    assert compound.combine == "all"


def test_config_to_dict_of_new_router_types() -> None:
    data = config_to_dict(load_config(every_router_type()))
    assert data["routers"][3]["rules"][0] == {"tags": ["etl", "team:eng"], "targetGroup": "h"}
    assert data["routers"][4]["rules"][0] == {
        "tags": {"team": "eng", "batch": None},
        "targetGroup": "h",
    }
    assert data["routers"][5] == {"type": "pythonScript", "script": ROUTE_SCRIPT, "timeoutMs": 250}
    conditions = data["routers"][6]["conditions"]  # only the keys of each condition's type
    assert conditions[0] == {"type": "protocol", "protocol": "postgresWire"}
    assert conditions[1] == {"type": "header", "headerName": "X-Batch", "headerValue": "1"}
    assert type(conditions[0]["type"]) is str and type(conditions[0]["protocol"]) is str


def test_invalid_regexes_name_the_rule() -> None:
    raw = with_changes(
        routers=[
            {"type": "queryRegex", "rules": [{"regex": "ok", "targetGroup": "g"}]},
            {
                "type": "queryRegex",
                "rules": [
                    {"regex": "abc(", "targetGroup": "g"},
                    {"regex": "*", "targetGroup": "g"},
                    {"regex": 5, "targetGroup": "g"},
                ],
            },
            {
                "type": "compound",
                "targetGroup": "g",
                "conditions": [{"type": "queryRegex", "regex": "[a-"}],
            },
        ]
    )
    assert problems_of(raw) == [
        "routers[1].rules[0].regex: invalid regex: "
        "missing ), unterminated subpattern at position 3",
        "routers[1].rules[1].regex: invalid regex: nothing to repeat at position 0",
        "routers[1].rules[2].regex: expected a string, got 5; quote it to make it a string",
        "routers[2].conditions[0].regex: invalid regex: unterminated character set at position 0",
    ]


@pytest.mark.parametrize(
    ("router", "problems"),
    [
        ({"type": "queryRegex", "rules": []}, ["routers[0].rules: must have at least one rule"]),
        ({"type": "clientTags", "rules": None}, ["routers[0].rules: must have at least one rule"]),
        ({"type": "tags"}, ["routers[0].rules: required key missing"]),
        (
            {"type": "queryRegex", "rules": [{"regex": "x"}]},
            ["routers[0].rules[0].targetGroup: required key missing"],
        ),
        (
            {"type": "queryRegex", "rules": [{"regex": "x", "targetgroup": "g"}]},
            [
                "routers[0].rules[0].targetGroup: required key missing",
                "routers[0].rules[0]: unknown key 'targetgroup'; did you mean 'targetGroup'?",
            ],
        ),
        (
            {"type": "clientTags", "rules": [{"tags": [], "targetGroup": "g"}]},
            ["routers[0].rules[0].tags: must name at least one tag"],
        ),
        (
            {"type": "clientTags", "rules": [{"tags": ["etl", " "], "targetGroup": "g"}]},
            ["routers[0].rules[0].tags[1]: must not be empty"],
        ),
        (
            {"type": "clientTags", "rules": [{"tags": "etl", "targetGroup": "g"}]},
            ["routers[0].rules[0].tags: expected a list, got 'etl'"],
        ),
        (
            {"type": "clientTags", "rules": [{"tags": ["etl", 7], "targetGroup": "g"}]},
            ["routers[0].rules[0].tags[1]: expected a string, got 7; quote it to make it a string"],
        ),
        (
            {"type": "tags", "rules": [{"tags": {}, "targetGroup": "g"}]},
            ["routers[0].rules[0].tags: must name at least one tag"],
        ),
        (
            {"type": "tags", "rules": [{"tags": ["team:eng"], "targetGroup": "g"}]},
            ["routers[0].rules[0].tags: expected a mapping, got a list"],
        ),
        (
            {"type": "tags", "rules": [{"tags": {"team": ["a"]}, "targetGroup": "g"}]},
            ["routers[0].rules[0].tags.team: expected a string, got a list"],
        ),
    ],
)
def test_rule_router_errors(router: dict[str, Any], problems: list[str]) -> None:
    assert problems_of(with_changes(routers=[router])) == problems


def test_target_groups_must_be_defined_and_enabled() -> None:
    raw = every_router_type()
    raw["clusterGroups"]["off"] = {"members": ["a"], "maxRunningQueries": 1, "enabled": False}
    raw["routers"][2]["rules"][1]["targetGroup"] = "nope"
    raw["routers"][3]["rules"][0]["targetGroup"] = "off"
    raw["routers"][4]["rules"][1]["targetGroup"] = "nope"
    raw["routers"][6]["targetGroup"] = "off"
    assert problems_of(raw) == [
        "routers[2].rules[1].targetGroup: unknown group 'nope'; defined groups: g, h, off",
        "routers[3].rules[0].targetGroup: group 'off' is disabled",
        "routers[4].rules[1].targetGroup: unknown group 'nope'; defined groups: g, h, off",
        "routers[6].targetGroup: group 'off' is disabled",
    ]


# --- compound routers ---------------------------------------------------------------------


def compound_problems(*conditions: Any, **options: Any) -> list[str]:
    """Problems of a compound router placed at routers[3], after three valid ones."""
    raw = every_router_type()
    router = {"type": "compound", "targetGroup": "g", "conditions": list(conditions), **options}
    raw["routers"] = [*raw["routers"][:3], router]
    return problems_of(raw)


@pytest.mark.parametrize(
    ("condition", "problems"),
    [
        (
            {"type": "x"},
            [
                "routers[3].conditions[0].type: unknown 'x'; "
                "expected one of protocol, header, user, clientTag, queryRegex"
            ],
        ),
        ({"username": "u"}, ["routers[3].conditions[0].type: required key missing"]),
        (
            {"type": "protocol"},
            ["routers[3].conditions[0].protocol: required for condition type protocol"],
        ),
        (
            {"type": "protocol", "protocol": "http"},
            [
                "routers[3].conditions[0].protocol: unknown 'http'; expected one of "
                "trinoHttp, postgresWire, mysqlWire, clickhouseHttp, flightSql"
            ],
        ),
        (
            {"type": "header", "headerName": "X-Batch"},
            ["routers[3].conditions[0].headerValue: required for condition type header"],
        ),
        (
            {"type": "header", "headerName": " ", "headerValue": "1"},
            ["routers[3].conditions[0].headerName: must not be empty"],
        ),
        ({"type": "user"}, ["routers[3].conditions[0].username: required for condition type user"]),
        (
            {"type": "clientTag", "username": "u"},
            [
                "routers[3].conditions[0].username: not used by condition type clientTag",
                "routers[3].conditions[0].tag: required for condition type clientTag",
            ],
        ),
        (
            {"type": "queryRegex", "regex": "x", "protocol": "trinoHttp", "tag": "etl"},
            [
                "routers[3].conditions[0].protocol: not used by condition type queryRegex",
                "routers[3].conditions[0].tag: not used by condition type queryRegex",
            ],
        ),
        (
            {"type": "user", "username": "u", "user": "u"},
            ["routers[3].conditions[0]: unknown key 'user'"],
        ),
        ("user", ["routers[3].conditions[0]: expected a mapping, got 'user'"]),
    ],
)
def test_compound_condition_errors(condition: Any, problems: list[str]) -> None:
    assert compound_problems(condition) == problems


def test_compound_condition_keys_of_another_type() -> None:
    problems = compound_problems(
        {"type": "user", "username": "u"},
        {"type": "header", "headerName": "X", "headerValue": "v", "username": "u"},
    )
    assert problems == ["routers[3].conditions[1].username: not used by condition type header"]


def test_compound_router_errors() -> None:
    assert compound_problems() == ["routers[3].conditions: must have at least one condition"]
    assert compound_problems({"type": "user", "username": "u"}, combine="every") == [
        "routers[3].combine: unknown 'every'; expected one of all, any"
    ]
    raw = with_changes(routers=[{"type": "compound", "conditions": None}])
    assert problems_of(raw) == ["routers[0].targetGroup: required key missing"]


# --- python script routers ----------------------------------------------------------------


def script_problems(script: str) -> list[str]:
    raw = every_router_type()
    raw["routers"][5]["script"] = script
    return problems_of(raw)


@pytest.mark.parametrize(
    "script",
    [
        ROUTE_SCRIPT,
        "import re\n\ndef route(query, ctx, /):\n    return None\n",
        "def route(query, ctx, hint=None, *, strict=False):\n    return None\n",
        "def route(*args):\n    return None\n",
        "def route(query):\n    return None\n\ndef route(query, ctx):\n    return None\n",
    ],
)
def test_valid_route_functions(script: str) -> None:
    raw = with_changes(routers=[{"type": "pythonScript", "script": script}])
    assert load_config(raw).routers == (PythonScriptRouter(script=script),)


def test_script_is_compiled_not_run() -> None:
    script = "raise SystemExit(3)\n\ndef route(query, ctx):\n    return None\n"
    raw = with_changes(routers=[{"type": "pythonScript", "script": script}])
    assert load_config(raw).routers == (PythonScriptRouter(script=script),)


def test_script_syntax_error_has_the_line() -> None:
    script = "def route(query, ctx):\n    x = 1\n    return x +* 2\n"
    assert script_problems(script) == ["routers[5].script: syntax error at line 3: invalid syntax"]
    # Errors of the compile step, past the parser, are caught too.
    assert script_problems("def route(query, ctx):\n    pass\nreturn 1\n") == [
        "routers[5].script: syntax error at line 3: 'return' outside function"
    ]


@pytest.mark.parametrize(
    "script",
    [
        "",
        "x = 1\n",
        "def route(query):\n    return None\n",
        "def route(query, ctx, extra):\n    return None\n",
        "def route(query, ctx, *, strict):\n    return None\n",
        "async def route(query, ctx):\n    return None\n",
        "class R:\n    def route(self, query, ctx):\n        return None\n",
        "if True:\n    def route(query, ctx):\n        return None\n",
        "route = lambda query, ctx: None\n",
    ],
)
def test_script_must_define_route(script: str) -> None:
    assert script_problems(script) == ["routers[5].script: must define route(query, ctx)"]


@pytest.mark.parametrize(
    ("router", "problem"),
    [
        ({}, "routers[0]: requires script (the source) or scriptFile"),
        (
            {"script": None, "scriptFile": None},
            "routers[0]: requires script (the source) or scriptFile",
        ),
        (
            {"script": ROUTE_SCRIPT, "scriptFile": "route.py"},
            "routers[0]: expected either script or scriptFile, not both",
        ),
        (
            {"script": ROUTE_SCRIPT, "timeoutMs": 0},
            "routers[0].timeoutMs: must be at least 1, got 0",
        ),
        (
            {"script": ROUTE_SCRIPT, "timeoutMs": 0.5},
            "routers[0].timeoutMs: expected an integer, got 0.5",
        ),
        (
            {"script": ["def route(q, c): pass"]},
            "routers[0].script: expected a string, got a list",
        ),
        (
            {"scriptFile": 5},
            "routers[0].scriptFile: expected a string, got 5; quote it to make it a string",
        ),
        (
            {"script": ROUTE_SCRIPT, "timeout": 5},
            "routers[0]: unknown key 'timeout'; did you mean 'timeoutMs'?",
        ),
    ],
)
def test_python_script_router_errors(router: dict[str, Any], problem: str) -> None:
    raw = with_changes(routers=[{"type": "pythonScript", **router}])
    assert problems_of(raw) == [problem]


def script_file_config(script_file: str) -> dict[str, Any]:
    return with_changes(routers=[{"type": "pythonScript", "scriptFile": script_file}])


def test_script_file_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "scripts").mkdir(parents=True)
    script = tmp_path / "conf" / "scripts" / "route.py"
    script.write_text(ROUTE_SCRIPT)
    config_file = tmp_path / "conf" / "qflux.yaml"
    config_file.write_text(yaml.safe_dump(script_file_config("scripts/route.py")))
    monkeypatch.chdir(tmp_path)  # not the config's directory
    expected = PythonScriptRouter(script=ROUTE_SCRIPT, script_file=str(script), timeout_ms=100)
    assert load_config(config_file).routers == (expected,)
    assert load_config("conf/qflux.yaml").routers == (expected,)


def test_script_file_in_a_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "route.py"
    script.write_text(ROUTE_SCRIPT)
    (router,) = load_config(script_file_config(str(script))).routers
    assert router == PythonScriptRouter(script=ROUTE_SCRIPT, script_file=str(script))
    monkeypatch.chdir(tmp_path)  # a relative path in a mapping: the current directory
    assert load_config(script_file_config("./route.py")).routers == (router,)


def test_script_file_round_trips(tmp_path: Path) -> None:
    (tmp_path / "route.py").write_text(ROUTE_SCRIPT)
    config_file = tmp_path / "qflux.yaml"
    config_file.write_text(yaml.safe_dump(script_file_config("route.py")))
    config = load_config(config_file)
    data = config_to_dict(config)
    assert data["routers"][0] == {
        "type": "pythonScript",
        "scriptFile": str(tmp_path / "route.py"),
        "timeoutMs": 100,
    }
    assert load_config(data) == config


def test_script_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.py"
    broken = tmp_path / "broken.py"
    broken.write_text("def route(query, ctx):\n    return (\n")
    no_route = tmp_path / "no_route.py"
    no_route.write_text("def handler(query, ctx):\n    return None\n")
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00")
    raw = with_changes(
        routers=[
            {"type": "pythonScript", "scriptFile": str(path)}
            for path in (missing, tmp_path, broken, no_route)
        ]
    )
    assert problems_of(raw) == [
        f"routers[0].scriptFile: cannot read {missing}: No such file or directory",
        f"routers[1].scriptFile: cannot read {tmp_path}: Is a directory",
        f"routers[2].scriptFile: syntax error in {broken} at line 2: '(' was never closed",
        f"routers[3].scriptFile: {no_route} must define route(query, ctx)",
    ]
    (problem,) = problems_of(script_file_config(str(binary)))
    assert problem.startswith(f"routers[0].scriptFile: cannot read {binary}: 'utf-8' codec")


# --- translation --------------------------------------------------------------------------

TRANSFORM_SCRIPT = (
    "def transform(sql, src, dst):\n    return sql.replace('now()', 'current_timestamp')\n"
)


def every_translation_option() -> dict[str, Any]:
    raw = with_changes(
        translation={
            "errorOnUnsupported": True,
            "cacheSize": 0,
            "flightSqlDialect": "duckdb",
            "schemaTtlSecs": 2.5,
            "pythonScripts": [
                {"script": TRANSFORM_SCRIPT},
                {"script": "def transform(*args):\n    return args[0]\n"},
            ],
        }
    )
    raw["clusterGroups"]["g"]["schemaAwareTranslation"] = True
    return raw


def test_translation_options_load() -> None:
    config = load_config(every_translation_option())
    assert config.translation == TranslationConfig(
        error_on_unsupported=True,
        cache_size=0,
        flight_sql_dialect="duckdb",
        schema_ttl_secs=2.5,
        python_scripts=(
            TranslationScript(script=TRANSFORM_SCRIPT, script_file=None),
            TranslationScript(script="def transform(*args):\n    return args[0]\n"),
        ),
    )
    assert config.cluster_groups["g"].schema_aware_translation is True


def test_translation_section_may_be_empty() -> None:
    assert load_config(with_changes(translation=None)).translation == TranslationConfig()
    config = load_config(with_changes(translation={"pythonScripts": None}))
    assert config.translation.python_scripts == ()


def test_translation_to_dict() -> None:
    data = config_to_dict(load_config(every_translation_option()))
    assert data["translation"] == {
        "errorOnUnsupported": True,
        "cacheSize": 0,
        "flightSqlDialect": "duckdb",
        "schemaTtlSecs": 2.5,
        "pythonScripts": [
            {"script": TRANSFORM_SCRIPT},
            {"script": "def transform(*args):\n    return args[0]\n"},
        ],
    }
    assert data["clusterGroups"]["g"]["schemaAwareTranslation"] is True


@pytest.mark.parametrize("dialect", ["trino", "duckdb", "postgres", "mysql", "spark2", "tsql"])
def test_flight_sql_dialect_names_a_sqlglot_dialect(dialect: str) -> None:
    config = load_config(with_changes(translation={"flightSqlDialect": dialect}))
    assert config.translation.flight_sql_dialect == dialect


@pytest.mark.parametrize("dialect", ["foo", "", "Trino"])
def test_unknown_flight_sql_dialect(dialect: str) -> None:
    names = sorted(name for name in Dialect.classes if name)
    (problem,) = problems_of(with_changes(translation={"flightSqlDialect": dialect}))
    assert problem == (
        f"translation.flightSqlDialect: unknown {dialect!r}; expected one of {', '.join(names)}"
    )
    assert problem.startswith(
        f"translation.flightSqlDialect: unknown {dialect!r}; expected one of athena, bigquery, "
    )


@pytest.mark.parametrize(
    ("translation", "problem"),
    [
        ({"cacheSize": -1}, "translation.cacheSize: must be at least 0, got -1"),
        ({"cacheSize": 1.5}, "translation.cacheSize: expected an integer, got 1.5"),
        ({"schemaTtlSecs": 0}, "translation.schemaTtlSecs: must be greater than 0, got 0.0"),
        ({"schemaTtlSecs": "long"}, "translation.schemaTtlSecs: expected a number, got 'long'"),
        (
            {"flightSqlDialect": 5},
            "translation.flightSqlDialect: expected a string, got 5; quote it to make it a string",
        ),
        (
            {"errorOnUnsupported": "no"},
            "translation.errorOnUnsupported: expected true or false, got 'no'",
        ),
        (
            {"cachesize": 5},
            "translation: unknown key 'cachesize'; did you mean 'cacheSize'?",
        ),
        ({"pythonScripts": "x.py"}, "translation.pythonScripts: expected a list, got 'x.py'"),
        (
            {"pythonScripts": ["x.py"]},
            "translation.pythonScripts[0]: expected a mapping, got 'x.py'",
        ),
        (
            {"pythonScripts": [{}]},
            "translation.pythonScripts[0]: requires script (the source) or scriptFile",
        ),
        (
            {"pythonScripts": [{"script": TRANSFORM_SCRIPT, "scriptFile": "t.py"}]},
            "translation.pythonScripts[0]: expected either script or scriptFile, not both",
        ),
        (
            {"pythonScripts": [{"script": TRANSFORM_SCRIPT, "timeoutMs": 5}]},
            "translation.pythonScripts[0]: unknown key 'timeoutMs'",
        ),
        (
            {"pythonScripts": [{"script": 5}]},
            "translation.pythonScripts[0].script: expected a string, got 5; "
            "quote it to make it a string",
        ),
        (
            {"pythonScripts": [{"script": ROUTE_SCRIPT}]},
            "translation.pythonScripts[0].script: must define transform(sql, src, dst)",
        ),
    ],
)
def test_translation_errors(translation: dict[str, Any], problem: str) -> None:
    assert problems_of(with_changes(translation=translation)) == [problem]


def test_schema_aware_translation_must_be_a_bool() -> None:
    raw = valid()
    raw["clusterGroups"]["g"]["schemaAwareTranslation"] = "yes"
    assert problems_of(raw) == [
        "clusterGroups.g.schemaAwareTranslation: expected true or false, got 'yes'"
    ]


def transform_problems(*scripts: str) -> list[str]:
    raw = with_changes(translation={"pythonScripts": [{"script": s} for s in scripts]})
    return problems_of(raw)


@pytest.mark.parametrize(
    "script",
    [
        TRANSFORM_SCRIPT,
        "def transform(sql, src, dst, /):\n    return sql\n",
        "def transform(sql, src, dst, extra=None, *, flag=False):\n    return sql\n",
        "def transform(sql, *rest):\n    return sql\n",
        "def transform(sql):\n    return sql\n\ndef transform(sql, src, dst):\n    return sql\n",
        "raise SystemExit(3)\n\ndef transform(sql, src, dst):\n    return sql\n",  # not run
    ],
)
def test_valid_transform_functions(script: str) -> None:
    config = load_config(with_changes(translation={"pythonScripts": [{"script": script}]}))
    assert config.translation.python_scripts == (TranslationScript(script=script),)


@pytest.mark.parametrize(
    "script",
    [
        "",
        "x = 1\n",
        ROUTE_SCRIPT,
        "def transform(sql, src):\n    return sql\n",
        "def transform(sql, src, dst, extra):\n    return sql\n",
        "def transform(sql, src, dst, *, strict):\n    return sql\n",
        "async def transform(sql, src, dst):\n    return sql\n",
        "class T:\n    def transform(self, sql, src, dst):\n        return sql\n",
        "transform = lambda sql, src, dst: sql\n",
    ],
)
def test_script_must_define_transform(script: str) -> None:
    assert transform_problems(TRANSFORM_SCRIPT, script) == [
        "translation.pythonScripts[1].script: must define transform(sql, src, dst)"
    ]


def test_transform_syntax_errors_have_the_line() -> None:
    assert transform_problems(
        "def transform(sql, src, dst):\n    return sql +* 1\n",
        "def transform(sql, src, dst):\n    pass\nreturn 1\n",
    ) == [
        "translation.pythonScripts[0].script: syntax error at line 2: invalid syntax",
        "translation.pythonScripts[1].script: syntax error at line 3: 'return' outside function",
    ]


def test_translation_script_file_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "hooks").mkdir(parents=True)
    script = tmp_path / "conf" / "hooks" / "fix.py"
    script.write_text(TRANSFORM_SCRIPT)
    config_file = tmp_path / "conf" / "qflux.yaml"
    raw = with_changes(
        translation={
            "pythonScripts": [{"script": TRANSFORM_SCRIPT}, {"scriptFile": "hooks/fix.py"}]
        }
    )
    config_file.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)  # not the config's directory
    expected = (
        TranslationScript(script=TRANSFORM_SCRIPT, script_file=None),
        TranslationScript(script=TRANSFORM_SCRIPT, script_file=str(script)),
    )
    assert load_config(config_file).translation.python_scripts == expected
    assert load_config("conf/qflux.yaml").translation.python_scripts == expected


def test_translation_script_file_round_trips(tmp_path: Path) -> None:
    (tmp_path / "fix.py").write_text(TRANSFORM_SCRIPT)
    config_file = tmp_path / "qflux.yaml"
    raw = with_changes(
        translation={"pythonScripts": [{"scriptFile": "fix.py"}, {"script": TRANSFORM_SCRIPT}]}
    )
    config_file.write_text(yaml.safe_dump(raw))
    config = load_config(config_file)
    data = config_to_dict(config)
    assert data["translation"]["pythonScripts"] == [
        {"scriptFile": str(tmp_path / "fix.py")},
        {"script": TRANSFORM_SCRIPT},
    ]
    assert load_config(data) == config
    assert yaml.safe_load(yaml.safe_dump(data)) == data


def test_translation_script_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.py"
    broken = tmp_path / "broken.py"
    broken.write_text("def transform(sql, src, dst):\n    return (\n")
    wrong = tmp_path / "wrong.py"
    wrong.write_text(ROUTE_SCRIPT)
    good = tmp_path / "good.py"
    good.write_text(TRANSFORM_SCRIPT)
    raw = with_changes(
        translation={
            "pythonScripts": [
                {"scriptFile": str(path)} for path in (good, missing, tmp_path, broken, wrong)
            ]
        }
    )
    assert problems_of(raw) == [
        f"translation.pythonScripts[1].scriptFile: cannot read {missing}: "
        "No such file or directory",
        f"translation.pythonScripts[2].scriptFile: cannot read {tmp_path}: Is a directory",
        f"translation.pythonScripts[3].scriptFile: syntax error in {broken} at line 2: "
        "'(' was never closed",
        f"translation.pythonScripts[4].scriptFile: {wrong} must define transform(sql, src, dst)",
    ]


def test_router_and_translation_scripts_each_need_their_own_function() -> None:
    raw = with_changes(
        routers=[{"type": "pythonScript", "script": TRANSFORM_SCRIPT}],
        translation={"pythonScripts": [{"script": ROUTE_SCRIPT}]},
    )
    assert problems_of(raw) == [
        "routers[0].script: must define route(query, ctx)",
        "translation.pythonScripts[0].script: must define transform(sql, src, dst)",
    ]


# --- auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["oidc", "ldap"])
def test_auth_providers_not_supported_yet(provider: str) -> None:
    raw = with_changes(auth={"provider": provider, "required": True, provider: {"x": 1}})
    assert problems_of(raw) == [f"auth.provider: the {provider} auth provider is not supported yet"]


def test_auth_unknown_provider_and_authorization() -> None:
    raw = with_changes(auth={"provider": "kerberos"}, authorization={"provider": "openfga"})
    assert problems_of(raw) == [
        "auth.provider: unknown 'kerberos'; expected one of none, static, oidc, ldap",
        "authorization.provider: the openfga authorization provider is not supported yet",
    ]


def test_static_users_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_BOB_PASSWORD", "from-env")
    raw = with_changes(
        auth={
            "provider": "static",
            "required": True,
            "users": {"alice": {"password": "s3cret"}, "bob": {"password": "${PG_BOB_PASSWORD}"}},
        }
    )
    assert load_config(raw).auth == AuthConfig(
        provider="static",
        required=True,
        users={"alice": StaticUser(password="s3cret"), "bob": StaticUser(password="from-env")},
    )


@pytest.mark.parametrize(
    ("auth", "problems"),
    [
        ({"provider": "static"}, ["auth.users: required for provider static"]),
        ({"provider": "static", "users": None}, ["auth.users: required for provider static"]),
        ({"provider": "static", "users": {}}, ["auth.users: required for provider static"]),
        (
            {"users": {"alice": {"password": "pw"}}},
            ["auth.users: only used by provider static"],
        ),
        (
            {"provider": "none", "users": {"alice": {"password": "pw"}}},
            ["auth.users: only used by provider static"],
        ),
        (
            {"provider": "static", "users": {"alice": {"password": ""}}},
            ["auth.users.alice.password: must not be empty"],
        ),
        (
            {"provider": "static", "users": {"alice": {"password": "pw"}, "": {"password": "pw"}}},
            ["auth.users: a user name must not be empty"],
        ),
        (
            {"provider": "static", "users": {"alice": {}}},
            ["auth.users.alice.password: required key missing"],
        ),
        (
            {"provider": "static", "users": {"alice": "pw"}},
            ["auth.users.alice: expected a mapping, got 'pw'"],
        ),
        (
            {"provider": "static", "users": {"alice": {"password": 1234}}},
            [
                "auth.users.alice.password: expected a string, got 1234; "
                "quote it to make it a string"
            ],
        ),
        (
            {"provider": "static", "users": {"alice": {"password": "pw", "passwd": "pw"}}},
            ["auth.users.alice: unknown key 'passwd'; did you mean 'password'?"],
        ),
        (
            {"provider": "static", "users": ["alice"]},
            ["auth.users: expected a mapping, got a list"],
        ),
        (
            {"provider": "static", "user": {"alice": {"password": "pw"}}},
            ["auth: unknown key 'user'; did you mean 'users'?"],
        ),
    ],
)
def test_static_user_errors(auth: dict[str, Any], problems: list[str]) -> None:
    assert problems_of(with_changes(auth=auth)) == problems


def test_static_user_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PG_ALICE_PASSWORD", raising=False)
    raw = with_changes(
        auth={"provider": "static", "users": {"alice": {"password": "${PG_ALICE_PASSWORD}"}}}
    )
    assert problems_of(raw) == [
        "auth.users.alice.password: environment variable PG_ALICE_PASSWORD is not set"
    ]
    monkeypatch.setenv("PG_ALICE_PASSWORD", "")  # set but empty: not a password
    assert problems_of(raw) == ["auth.users.alice.password: must not be empty"]
    raw["auth"]["users"]["alice"]["password"] = "${PG_ALICE_PASSWORD:-}"
    monkeypatch.delenv("PG_ALICE_PASSWORD")
    assert problems_of(raw) == ["auth.users.alice.password: must not be empty"]


# --- the PostgreSQL wire frontend ---------------------------------------------------------

PG = "queryflux.frontends.postgresWire"


def static_auth() -> dict[str, Any]:
    return {"provider": "static", "users": {"alice": {"password": "s3cret"}}}


def postgres_wire(auth: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    raw = with_changes(queryflux={"frontends": {"postgresWire": options}})
    if auth is not None:
        raw["auth"] = copy.deepcopy(auth)
    return raw


def every_postgres_wire_option() -> dict[str, Any]:
    return postgres_wire(
        static_auth(),
        enabled=True,
        port=15432,
        host="127.0.0.1",
        maxMessageBytes=1024,
        maxStatements=10,
        maxPortals=5,
        authMethod="cleartext",
        allowCleartextWithoutTls=True,
        serverVersion="15.8",
    )


def test_postgres_wire_can_be_enabled() -> None:
    config = load_config(postgres_wire(enabled=True))
    frontends = config.queryflux.frontends
    assert frontends.postgres_wire == PostgresWireConfig(enabled=True)
    assert frontends.by_protocol()[FrontendProtocol.POSTGRES_WIRE] is frontends.postgres_wire


def test_postgres_wire_options_load() -> None:
    config = load_config(every_postgres_wire_option())
    assert config.queryflux.frontends.postgres_wire == PostgresWireConfig(
        enabled=True,
        port=15432,
        host="127.0.0.1",
        max_message_bytes=1024,
        max_statements=10,
        max_portals=5,
        auth_method="cleartext",
        allow_cleartext_without_tls=True,
        tls=None,
        server_version="15.8",
    )
    assert config.auth.users == {"alice": StaticUser(password="s3cret")}


def test_postgres_wire_to_dict() -> None:
    config = load_config(every_postgres_wire_option())
    data = config_to_dict(config)
    assert data["queryflux"]["frontends"]["postgresWire"] == {
        "enabled": True,
        "port": 15432,
        "host": "127.0.0.1",
        "maxMessageBytes": 1024,
        "maxStatements": 10,
        "maxPortals": 5,
        "authMethod": "cleartext",
        "allowCleartextWithoutTls": True,
        "tls": None,
        "serverVersion": "15.8",
    }
    assert data["auth"] == {
        "provider": "static",
        "required": False,
        "users": {"alice": {"password": "s3cret"}},
    }
    assert load_config(data) == config


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"port": 70000}, f"{PG}.port: must be between 0 and 65535, got 70000"),
        ({"port": "pg"}, f"{PG}.port: expected an integer, got 'pg'"),
        ({"maxMessageBytes": 0}, f"{PG}.maxMessageBytes: must be at least 1, got 0"),
        ({"maxMessageBytes": 1.5}, f"{PG}.maxMessageBytes: expected an integer, got 1.5"),
        ({"maxStatements": 0}, f"{PG}.maxStatements: must be at least 1, got 0"),
        ({"maxPortals": -1}, f"{PG}.maxPortals: must be at least 1, got -1"),
        (
            {"authMethod": "sha256"},
            f"{PG}.authMethod: unknown 'sha256'; expected one of "
            "trust, cleartext, md5, scram-sha-256",
        ),
        (
            {"allowCleartextWithoutTls": "yes"},
            f"{PG}.allowCleartextWithoutTls: expected true or false, got 'yes'",
        ),
        ({"tls": "on"}, f"{PG}.tls: expected a mapping, got 'on'"),
        ({"tls": {"keyFile": "server.key"}}, f"{PG}.tls.certFile: required key missing"),
        (
            {"serverVersion": 16},
            f"{PG}.serverVersion: expected a string, got 16; quote it to make it a string",
        ),
        (
            {"serverVersion": ""},
            f"{PG}.serverVersion: expected a version number like '16.4', got ''",
        ),
        (
            {"serverVersion": "PostgreSQL 16"},
            f"{PG}.serverVersion: expected a version number like '16.4', got 'PostgreSQL 16'",
        ),
        (
            {"max_portals": 5},
            f"{PG}: unknown key 'max_portals'; did you mean 'maxPortals'?",
        ),
        ({"sslMode": "require"}, f"{PG}: unknown key 'sslMode'"),
    ],
)
def test_postgres_wire_errors(options: dict[str, Any], problem: str) -> None:
    assert problems_of(postgres_wire(enabled=True, **options)) == [problem]


@pytest.mark.parametrize("version", ["16.4", "16", "9.6.24", "16.4 (qflux)", "17beta1"])
def test_postgres_wire_server_versions(version: str) -> None:
    pg = load_config(postgres_wire(serverVersion=version)).queryflux.frontends.postgres_wire
    assert pg.server_version == version


def test_postgres_wire_takes_part_in_the_port_clash_check() -> None:
    assert problems_of(postgres_wire(enabled=True, port=8080)) == [
        f"{PG}.port: port 8080 is already used by queryflux.frontends.trinoHttp.port"
    ]
    raw = postgres_wire(enabled=True)
    raw["queryflux"]["adminApi"] = {"port": 5432}
    assert problems_of(raw) == [f"queryflux.adminApi.port: port 5432 is already used by {PG}.port"]
    raw = postgres_wire(enabled=True, port=0)
    raw["queryflux"]["frontends"]["trinoHttp"] = {"port": 0}
    load_config(raw)  # both ephemeral
    raw = postgres_wire(enabled=True, host="127.0.0.1", port=9000)
    raw["queryflux"]["adminApi"] = {"host": "10.0.0.1"}
    load_config(raw)  # two addresses
    assert problems_of(postgres_wire(enabled=True, port=9000)) == [  # the wildcard host
        f"queryflux.adminApi.port: port 9000 is already used by {PG}.port"
    ]


@pytest.mark.parametrize("method", ["cleartext", "md5", "scram-sha-256"])
@pytest.mark.parametrize("enabled", [True, False])
def test_password_auth_methods_need_static_users(method: str, enabled: bool) -> None:
    raw = postgres_wire(enabled=enabled, authMethod=method, allowCleartextWithoutTls=True)
    assert problems_of(raw) == [f"{PG}.authMethod: {method} needs auth.provider static"]
    raw["auth"] = static_auth()
    pg = load_config(raw).queryflux.frontends.postgres_wire
    assert pg.auth_method == method


@pytest.mark.parametrize("auth", [None, {"provider": "none"}, static_auth()])
@pytest.mark.parametrize("method", [None, "trust"])
def test_trust_and_the_default_method_need_no_users(
    auth: dict[str, Any] | None, method: str | None
) -> None:
    pg = load_config(postgres_wire(auth, enabled=True, authMethod=method)).queryflux
    assert pg.frontends.postgres_wire.auth_method == method


def test_cleartext_without_tls_is_refused() -> None:
    raw = postgres_wire(static_auth(), enabled=True, authMethod="cleartext")
    assert problems_of(raw) == [
        f"{PG}.authMethod: cleartext without tls would send passwords across the network "
        "in clear; configure tls, or set allowCleartextWithoutTls: true to accept that"
    ]
    raw["queryflux"]["frontends"]["postgresWire"]["allowCleartextWithoutTls"] = False
    assert len(problems_of(raw)) == 1
    raw["queryflux"]["frontends"]["postgresWire"]["allowCleartextWithoutTls"] = True
    assert load_config(raw).queryflux.frontends.postgres_wire.allow_cleartext_without_tls


def test_cleartext_with_tls(tmp_path: Path) -> None:
    tls = tls_files(tmp_path)
    raw = postgres_wire(static_auth(), enabled=True, authMethod="cleartext", tls=tls)
    pg = load_config(raw).queryflux.frontends.postgres_wire
    assert pg.tls == PgTlsConfig(cert_file=tls["certFile"], key_file=tls["keyFile"])
    assert pg.allow_cleartext_without_tls is False


def test_every_postgres_wire_problem_in_one_pass() -> None:
    raw = postgres_wire(enabled=True, port=8080, authMethod="cleartext")
    raw["auth"] = {"users": {"alice": {"password": ""}}}
    assert problems_of(raw) == [
        f"{PG}.port: port 8080 is already used by queryflux.frontends.trinoHttp.port",
        f"{PG}.authMethod: cleartext needs auth.provider static",
        f"{PG}.authMethod: cleartext without tls would send passwords across the network "
        "in clear; configure tls, or set allowCleartextWithoutTls: true to accept that",
        "auth.users: only used by provider static",
        "auth.users.alice.password: must not be empty",
    ]


def tls_files(directory: Path) -> dict[str, str]:
    """A dummy certificate and key; only their readability is checked at load."""
    cert, key = directory / "server.crt", directory / "server.key"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    return {"certFile": str(cert), "keyFile": str(key)}


def test_tls_files_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "tls").mkdir(parents=True)
    tls_files(tmp_path / "conf" / "tls")
    config_file = tmp_path / "conf" / "qflux.yaml"
    raw = postgres_wire(
        enabled=True, tls={"certFile": "tls/server.crt", "keyFile": "tls/server.key"}
    )
    config_file.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)  # not the config's directory
    expected = PgTlsConfig(
        cert_file=str(tmp_path / "conf" / "tls" / "server.crt"),
        key_file=str(tmp_path / "conf" / "tls" / "server.key"),
    )
    assert load_config(config_file).queryflux.frontends.postgres_wire.tls == expected
    assert load_config("conf/qflux.yaml").queryflux.frontends.postgres_wire.tls == expected


def test_tls_files_in_a_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = tls_files(tmp_path)
    expected = PgTlsConfig(cert_file=tls["certFile"], key_file=tls["keyFile"])
    pg = load_config(postgres_wire(tls=tls)).queryflux.frontends.postgres_wire
    assert pg.tls == expected
    monkeypatch.chdir(tmp_path)  # a relative path in a mapping: the current directory
    raw = postgres_wire(tls={"certFile": "./server.crt", "keyFile": "server.key"})
    assert load_config(raw).queryflux.frontends.postgres_wire.tls == expected


def test_tls_files_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = tls_files(tmp_path)
    monkeypatch.setenv("PG_TLS_DIR", str(tmp_path))
    raw = postgres_wire(
        tls={"certFile": "${PG_TLS_DIR}/server.crt", "keyFile": "${PG_TLS_DIR}/server.key"}
    )
    pg = load_config(raw).queryflux.frontends.postgres_wire
    assert pg.tls == PgTlsConfig(cert_file=tls["certFile"], key_file=tls["keyFile"])


def test_tls_file_problems(tmp_path: Path) -> None:
    tls_files(tmp_path)
    missing = tmp_path / "missing.crt"
    raw = postgres_wire(tls={"certFile": str(missing), "keyFile": str(tmp_path)})
    assert problems_of(raw) == [
        f"{PG}.tls.certFile: cannot read {missing}: No such file or directory",
        f"{PG}.tls.keyFile: cannot read {tmp_path}: Is a directory",
    ]
    raw = postgres_wire(tls={"certFile": str(tmp_path / "server.crt"), "keyFile": "nope.key"})
    config_file = tmp_path / "qflux.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    assert problems_of(config_file) == [  # named by its resolved path
        f"{PG}.tls.keyFile: cannot read {tmp_path / 'nope.key'}: No such file or directory"
    ]
    raw = postgres_wire(tls={"certFile": str(tmp_path / "server.crt"), "keyFile": 5})
    assert problems_of(raw) == [
        f"{PG}.tls.keyFile: expected a string, got 5; quote it to make it a string"
    ]
    raw = postgres_wire(tls={**tls_files(tmp_path), "caFile": "ca.pem"})
    assert problems_of(raw) == [f"{PG}.tls: unknown key 'caFile'"]


def test_tls_round_trips(tmp_path: Path) -> None:
    tls_files(tmp_path)
    config_file = tmp_path / "qflux.yaml"
    raw = postgres_wire(
        static_auth(),
        enabled=True,
        authMethod="cleartext",
        tls={"certFile": "server.crt", "keyFile": "server.key"},
    )
    config_file.write_text(yaml.safe_dump(raw))
    config = load_config(config_file)
    data = config_to_dict(config)
    assert data["queryflux"]["frontends"]["postgresWire"]["tls"] == {
        "certFile": str(tmp_path / "server.crt"),
        "keyFile": str(tmp_path / "server.key"),
    }
    assert load_config(data) == config
    assert yaml.safe_load(yaml.safe_dump(data)) == data


# --- environment variables ----------------------------------------------------------------


def trino_cluster(**extra: Any) -> dict[str, Any]:
    raw = valid()
    raw["clusters"]["trino-1"] = {
        "engine": "trino",
        "endpoint": "http://trino:8080",
        "auth": {"type": "basic", "username": "qflux", **extra},
    }
    return raw


def password_of(raw: dict[str, Any]) -> str | None:
    auth = load_config(raw).clusters["trino-1"].auth
    assert auth is not None
    return auth.password


def test_env_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINO_PW", "hunter2")
    monkeypatch.setenv("TRINO_HOST", "trino.internal")
    raw = trino_cluster(password="${TRINO_PW}")
    raw["clusters"]["trino-1"]["endpoint"] = "http://${TRINO_HOST}:8080/"
    cluster = load_config(raw).clusters["trino-1"]
    assert cluster.auth is not None and cluster.auth.password == "hunter2"
    assert cluster.endpoint == "http://trino.internal:8080/"


def test_env_unset_names_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRINO_PW", raising=False)
    assert problems_of(trino_cluster(password="${TRINO_PW}")) == [
        "clusters.trino-1.auth.password: environment variable TRINO_PW is not set"
    ]


def test_env_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRINO_PW", raising=False)
    raw = trino_cluster(password="${TRINO_PW:-fallback}")
    assert password_of(raw) == "fallback"
    monkeypatch.setenv("TRINO_PW", "")  # empty counts as unset for :- (as in the shell)
    assert password_of(raw) == "fallback"
    monkeypatch.setenv("TRINO_PW", "set")
    assert password_of(raw) == "set"
    raw = trino_cluster(password="${TRINO_PW:-}")
    monkeypatch.delenv("TRINO_PW")
    assert password_of(raw) == ""


def test_env_empty_value_without_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINO_PW", "")
    assert password_of(trino_cluster(password="${TRINO_PW}")) == ""


def test_env_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINO_PW", "expanded")
    raw = trino_cluster(password="p$${TRINO_PW}-$$-$x-${TRINO_PW}")
    password = password_of(raw)
    assert password == "p${TRINO_PW}-$$-$x-expanded"


def test_env_into_numbers_and_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QFLUX_PORT", "18080")
    monkeypatch.setenv("QFLUX_ADMIN", "false")
    raw = with_changes(
        queryflux={
            "frontends": {"trinoHttp": {"port": "${QFLUX_PORT}"}},
            "adminApi": {"enabled": "${QFLUX_ADMIN}"},
            "shutdownGraceSecs": "${QFLUX_GRACE:-2.5}",
        }
    )
    qf = load_config(raw).queryflux
    assert qf.frontends.trino_http.port == 18080
    assert qf.admin_api.enabled is False
    assert qf.shutdown_grace_secs == 2.5


def test_env_problems_are_all_reported_without_echoes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_PORT", raising=False)
    monkeypatch.delenv("NO_SUCH_GROUP", raising=False)
    raw = with_changes(
        queryflux={"frontends": {"trinoHttp": {"port": "${NO_SUCH_PORT}"}}},
        routingFallback="${NO_SUCH_GROUP}",
    )
    raw["clusters"]["a"]["databasePath"] = "${BROKEN"
    raw["clusters"]["b"]["databasePath"] = "${not a name}"
    # The port's "expected an integer" and the fallback's "unknown group" are not repeated.
    assert problems_of(raw) == [  # in document order
        "clusters.a.databasePath: unterminated '${' (write '$${' for a literal '${')",
        "clusters.b.databasePath: invalid environment variable reference '${not a name}'",
        "routingFallback: environment variable NO_SUCH_GROUP is not set",
        "queryflux.frontends.trinoHttp.port: environment variable NO_SUCH_PORT is not set",
    ]


def test_env_in_lists_and_not_in_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBER", "b")
    raw = valid()
    raw["clusterGroups"]["g"]["members"] = ["a", "${MEMBER}"]
    raw["clusters"]["${MEMBER}"] = {"engine": "duckDb"}
    config = load_config(raw)
    assert config.cluster_groups["g"].members == ("a", "b")
    assert "${MEMBER}" in config.clusters


# --- reading files ------------------------------------------------------------------------


def test_yaml_syntax_error_has_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("clusters:\n  a:\n    engine: duckDb\n   bad: [1, 2\n")
    assert problems_of(str(path)) == [
        f"{path}:4:4: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping at line 2, column 3)"
    ]


def test_yaml_unclosed_flow_sequence(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("routers: [\n  {type: header\n")
    (problem,) = problems_of(path)
    file_part, line, column, _ = problem.split(":", 3)
    assert file_part == str(path)
    assert line.isdigit() and column.isdigit()


def test_yaml_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("clusters: {}\nrouters: []\nclusters: {}\n")
    assert problems_of(path) == [
        f"{path}:3:1: duplicate key 'clusters' (while constructing a mapping at line 1, column 1)"
    ]


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        "clusters:\n"
        "  a: &duck {engine: duckDb, maxRunningQueries: 2}\n"
        "  b: {<<: *duck, maxRunningQueries: 3}\n"
        "clusterGroups:\n"
        "  g: {members: [a, b], maxRunningQueries: 4}\n"
        "routingFallback: g\n"
    )
    assert load_config(path).clusters["b"].max_running_queries == 3


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert problems_of(path) == [f"config file not found: {path}"]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n")
    assert problems_of(path) == [f"{path}: the file is empty; expected a mapping of sections"]


def test_config_error_accepts_a_single_problem() -> None:
    err = ConfigError("a: b")
    assert err.problems == ["a: b"]
    assert str(err) == "a: b"
