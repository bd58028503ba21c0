"""The admin API over HTTP: health, history, live state and admin cancel."""

from __future__ import annotations

import threading

import requests
from trino.exceptions import TrinoQueryError

from .conftest import group_load, record_of, wait_until
from .test_trino_frontend import LONG_QUERY, connect


def admin(proxy, path: str) -> str:
    return f"http://127.0.0.1:{proxy.port('adminApi')}{path}"


def test_health_history_and_cluster_state(proxy):
    assert requests.get(admin(proxy, "/health")).json()["status"] == "ok"
    cur = connect(proxy).cursor()
    cur.execute("SELECT 7")
    cur.fetchall()
    recent = requests.get(admin(proxy, "/api/queries?limit=1")).json()
    assert [r["id"] for r in recent] == [cur.query_id]
    assert recent[0]["sql"] == "SELECT 7" and recent[0]["rowsReturned"] == 1
    assert requests.get(admin(proxy, "/api/queries?limit=x")).status_code == 400
    assert requests.get(admin(proxy, "/api/queries/nope")).status_code == 404
    state = requests.get(admin(proxy, "/api/clusters")).json()
    assert state["groups"]["g"]["maxRunningQueries"] == 8
    assert state["clusters"]["duck"]["engine"] == "duckDb"
    assert requests.get(admin(proxy, "/nope")).status_code == 404


def test_admin_cancel_stops_a_running_query(proxy):
    cur = connect(proxy).cursor()
    errors: list[Exception] = []

    def run() -> None:
        try:
            cur.execute(LONG_QUERY)
        except TrinoQueryError as exc:
            errors.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    query_id = wait_until(lambda: cur._query is not None and cur._query.query_id)
    wait_until(lambda: record_of(proxy, query_id).status == "RUNNING")
    assert requests.delete(admin(proxy, f"/api/queries/{query_id}")).status_code == 202
    runner.join(5)
    assert errors and errors[0].error_name == "USER_CANCELED"
    assert "admin" in errors[0].message
    record = record_of(proxy, query_id)
    assert record.status == "CANCELLED" and record.cancel_reason == "admin"
    assert group_load(proxy) == (0, 0)
    assert requests.delete(admin(proxy, f"/api/queries/{query_id}")).status_code == 404
