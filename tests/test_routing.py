"""Routing end to end: every router type, script failures, strategies, health, overflow.

Each DuckDB cluster's database holds `whoami(name)`, so a query sees where it ran.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import textwrap

import pytest
import yaml
from trino.exceptions import TrinoQueryError

from .conftest import record_of, wait_until
from .test_trino_frontend import connect, hold_slot

NAMES = ("alpha", "beta", "gamma")


def clusters(paths: dict[str, str], **extra) -> dict[str, dict]:
    return {
        name: {"engine": "duckDb", "databasePath": path, **extra} for name, path in paths.items()
    }


def one_group_each(paths: dict[str, str]) -> dict[str, dict]:
    return {name: {"members": [name], "maxRunningQueries": 4} for name in paths}


def where(proxy, **connect_args) -> tuple[str, object]:
    """Run `SELECT name FROM whoami`; return the cluster's name and the routing trace."""
    cur = connect(proxy, **connect_args).cursor()
    cur.execute("SELECT name FROM whoami")
    (name,) = cur.fetchone()
    cur.fetchall()
    return name, record_of(proxy, cur.query_id).routing_trace


@pytest.fixture
def paths(named_duckdb_files):
    return named_duckdb_files(*NAMES)


ROUTE_SCRIPT = textwrap.dedent(
    """
    def route(query, ctx):
        if ctx["user"] == "scripted":
            return "gamma"
        if ctx["user"] == "busy-aware":
            # spill to beta when alpha has anything running
            return "beta" if ctx["groups"]["alpha"]["running"] else "alpha"
        if ctx["user"] == "raiser":
            raise ValueError("boom")
        if ctx["user"] == "stranger":
            return "no-such-group"
        if ctx["user"] == "sleeper":
            import time
            time.sleep(2)
            return "gamma"
        return None
    """
)


@pytest.fixture
def routed(make_proxy, paths):
    config = {
        "clusters": clusters(paths),
        "clusterGroups": one_group_each(paths),
        "routers": [
            {"type": "header", "headerName": "X-Target", "headerValueToGroup": {"b": "beta"}},
            {
                "type": "queryRegex",
                "rules": [{"regex": r"/\*\s*heavy\s*\*/", "targetGroup": "gamma"}],
            },
            {"type": "clientTags", "rules": [{"tags": ["etl", "nightly"], "targetGroup": "beta"}]},
            {
                "type": "tags",
                "rules": [{"tags": {"team": "eng", "env": None}, "targetGroup": "gamma"}],
            },
            {
                "type": "compound",
                "combine": "all",
                "targetGroup": "beta",
                "conditions": [
                    {"type": "user", "username": "ops"},
                    {"type": "clientTag", "tag": "urgent"},
                ],
            },
            {
                "type": "compound",
                "combine": "any",
                "targetGroup": "gamma",
                "conditions": [
                    {"type": "header", "headerName": "X-Lane", "headerValue": "fast"},
                    {"type": "queryRegex", "regex": "(?i)from\\s+big_table"},
                ],
            },
            {"type": "pythonScript", "script": ROUTE_SCRIPT, "timeoutMs": 200},
        ],
        "routingFallback": "alpha",
    }
    with make_proxy(config) as proxy:
        yield proxy


def test_fallback_when_nothing_matches(routed):
    name, trace = where(routed)
    assert name == "alpha" and trace.fallback_used
    assert [s.router for s in trace.steps] == [
        "header", "queryRegex", "clientTags", "tags", "compound", "compound", "pythonScript",
    ]  # fmt: skip
    assert not any(step.matched for step in trace.steps)


def test_header_router(routed):
    name, trace = where(routed, http_headers={"X-Target": "b"})
    assert name == "beta" and trace.steps[-1].router == "header" and not trace.fallback_used


def test_query_regex_router(routed):
    cur = connect(routed).cursor()
    cur.execute("SELECT name FROM whoami /* heavy */")
    assert cur.fetchall() == [["gamma"]]
    step = record_of(routed, cur.query_id).routing_trace.steps[-1]
    assert step.router == "queryRegex" and step.matched and "rule 0" in step.detail


def test_client_tags_need_every_tag_of_a_rule(routed):
    assert where(routed, client_tags=["etl", "nightly", "x"])[0] == "beta"
    assert where(routed, client_tags=["etl"])[0] == "alpha"


def test_tags_router_reads_query_tags_from_the_session(routed):
    props = {"query_tags": "team:eng,env:prod"}
    name, trace = where(routed, session_properties=props)
    assert name == "gamma" and trace.steps[-1].router == "tags"
    assert where(routed, session_properties={"query_tags": "team:ops,env:prod"})[0] == "alpha"
    # SET SESSION round-trips through X-Trino-Set-Session, as the Trino CLI uses it.
    conn = connect(routed)
    cur = conn.cursor()
    cur.execute('SET SESSION query_tags = \'{"team": "eng", "env": null}\'')
    cur.fetchall()
    cur.execute("SELECT name FROM whoami")
    assert cur.fetchall() == [["gamma"]]


def test_compound_all_and_any(routed):
    assert where(routed, user="ops", client_tags=["urgent"])[0] == "beta"
    assert where(routed, user="ops")[0] == "alpha"  # all: one condition is not enough
    assert where(routed, http_headers={"X-Lane": "fast"})[0] == "gamma"  # any
    step = where(routed, http_headers={"X-Lane": "fast"})[1].steps[-1]
    assert step.router == "compound" and "header x-lane=yes" in step.detail


def test_python_script_routes_on_user_and_on_group_load(routed):
    assert where(routed, user="scripted")[0] == "gamma"
    assert where(routed, user="busy-aware")[0] == "alpha"
    holder = hold_slot(routed, "alpha")  # an unrouted query falls back to alpha
    assert where(routed, user="busy-aware")[0] == "beta"
    holder.cancel()


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ("raiser", "script raised ValueError('boom')"),
        ("stranger", "script returned 'no-such-group', not a defined group"),
        ("sleeper", "script ran past its 200 ms budget"),
    ],
)
def test_script_failures_count_as_no_match(routed, user, reason):
    name, trace = where(routed, user=user)
    assert name == "alpha" and trace.fallback_used
    assert trace.steps[-1].router == "pythonScript" and trace.steps[-1].detail == reason


def test_strategies_spread_queries_over_members(make_proxy, paths):
    config = {
        "clusters": clusters(paths),
        "clusterGroups": {
            "rr": {"members": ["alpha", "beta"], "maxRunningQueries": 4},
            "w": {
                "members": ["alpha", "beta"],
                "maxRunningQueries": 4,
                "strategy": {"type": "weighted", "weights": {"alpha": 9, "beta": 1}},
            },
        },
        "routers": [{"type": "header", "headerName": "X-G", "headerValueToGroup": {"w": "w"}}],
        "routingFallback": "rr",
    }
    with make_proxy(config) as proxy:
        rr = collections.Counter(where(proxy)[0] for _ in range(20))
        assert rr == {"alpha": 10, "beta": 10}
        weighted = collections.Counter(
            where(proxy, http_headers={"X-G": "w"})[0] for _ in range(200)
        )
        assert weighted == {"alpha": 180, "beta": 20}


HEALTH_QUERY = "SELECT CASE WHEN (SELECT bool_and(ok) FROM health) THEN 1 ELSE error('down') END"


def set_health(proxy, cluster: str, ok: bool) -> None:
    engine = proxy.server.clusters[cluster].engine
    engine.run_sync(f"UPDATE health SET ok = {str(ok).lower()}")


def healthy(proxy, cluster: str) -> bool:
    return proxy.call(lambda: proxy.server.clusters[cluster].healthy)


@pytest.fixture
def health_proxy(make_proxy, paths):
    config = {
        "queryflux": {
            "healthCheck": {"intervalSecs": 0.05, "timeoutSecs": 1, "unhealthyThreshold": 2}
        },
        "clusters": clusters(paths, healthCheckQuery=HEALTH_QUERY),
        "clusterGroups": {
            "ha": {
                "members": ["alpha", "beta"],
                "maxRunningQueries": 4,
                "strategy": {"type": "failover"},
            },
            "solo": {"members": ["gamma"], "maxRunningQueries": 4},
        },
        "routers": [
            {"type": "header", "headerName": "X-G", "headerValueToGroup": {"solo": "solo"}}
        ],
        "routingFallback": "ha",
    }
    with make_proxy(config) as proxy:
        for name in NAMES:
            proxy.server.clusters[name].engine.run_sync("CREATE TABLE health AS SELECT true AS ok")
        yield proxy


def test_failover_when_a_health_check_fails_and_recovery(health_proxy):
    proxy = health_proxy
    assert where(proxy)[0] == "alpha"
    set_health(proxy, "alpha", False)
    wait_until(lambda: not healthy(proxy, "alpha"), timeout=5)
    assert where(proxy)[0] == "beta"
    state = proxy.server.cluster_state()["clusters"]["alpha"]
    assert state["healthy"] is False and "down" in state["lastError"]
    set_health(proxy, "alpha", True)
    wait_until(lambda: healthy(proxy, "alpha"), timeout=5)
    assert where(proxy)[0] == "alpha"


def test_group_without_a_healthy_member_fails_at_once(health_proxy):
    proxy = health_proxy
    set_health(proxy, "gamma", False)
    wait_until(lambda: not healthy(proxy, "gamma"), timeout=5)
    cur = connect(proxy, http_headers={"X-G": "solo"}).cursor()
    with pytest.raises(TrinoQueryError) as failure:
        cur.execute("SELECT 1")
    assert failure.value.error_name == "NO_NODES_AVAILABLE"
    assert "cluster group 'solo' has no healthy cluster (gamma unhealthy)" in failure.value.message


def overflow_config(paths, **dash) -> dict:
    return {
        "clusters": clusters(paths),
        "clusterGroups": {
            "dash": {
                "members": ["alpha"],
                "maxRunningQueries": 1,
                "overflowGroup": "spill",
                **dash,
            },
            "spill": {"members": ["beta"], "maxRunningQueries": 4},
        },
        "routingFallback": "dash",
    }


def test_overflow_when_the_queue_is_full(make_proxy, paths):
    with make_proxy(overflow_config(paths, maxQueuedQueries=0)) as proxy:
        assert where(proxy)[0] == "alpha"
        holder = hold_slot(proxy, "dash")
        name, trace = where(proxy)
        assert name == "beta" and trace.group == "spill"
        step = trace.steps[-1]
        assert step.router == "overflow" and step.group == "spill"
        assert "maxQueuedQueries=0" in step.detail
        holder.cancel()


def test_overflow_after_waiting_too_long(make_proxy, paths):
    with make_proxy(overflow_config(paths, overflowAfterSecs=0.2)) as proxy:
        holder = hold_slot(proxy, "dash")
        name, trace = where(proxy)
        assert name == "beta"
        assert "waited 0.2s in 'dash' (overflowAfterSecs)" in trace.steps[-1].detail
        holder.cancel()


def test_cli_prints_the_trace_without_starting_engines(tmp_path):
    config = {
        "clusters": {
            "a": {"engine": "duckDb"},
            "t": {"engine": "trino", "endpoint": "http://t:8080"},
        },
        "clusterGroups": {
            "g": {"members": ["a"], "maxRunningQueries": 1},
            "trino": {"members": ["t"], "maxRunningQueries": 1},
        },
        "routers": [
            {"type": "header", "headerName": "X-Target", "headerValueToGroup": {"t": "trino"}},
            {"type": "tags", "rules": [{"tags": {"team": "eng"}, "targetGroup": "trino"}]},
        ],
        "routingFallback": "g",
    }
    path = tmp_path / "qflux.yaml"
    path.write_text(yaml.safe_dump(config))

    def route(*args: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "qflux.cli", "route", "-c", str(path), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out)

    assert route("--header", "X-Target=t", "SELECT 1") == {
        "group": "trino",
        "fallbackUsed": False,
        "steps": [
            {"router": "header", "matched": True, "group": "trino", "detail": "x-target='t'"}
        ],
    }
    by_tag = route("--tag", "team:eng", "SELECT 1")
    assert by_tag["group"] == "trino" and [s["matched"] for s in by_tag["steps"]] == [False, True]
    fallback = route("--protocol", "postgresWire", "SELECT 1")
    assert fallback["group"] == "g" and fallback["fallbackUsed"] is True
