"""Start-up, shutdown and the `qflux` command, run as a user would run them."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import trino
import trio
from trino.client import TrinoQuery

import qflux
from qflux.core import CancelReason
from qflux.testing import serve_in_thread

from .conftest import duckdb_config, group_load, record_of, wait_until
from .test_trino_frontend import connect, low_level_request

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def qflux_command(*args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "qflux.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def ready_ports(process: subprocess.Popen[str], timeout: float = 30.0) -> dict[str, int]:
    """Read the JSON log until the 'qflux ready' line; return the bound ports."""
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"qflux exited early: {process.wait()} {process.stdout.read()}")
        event = json.loads(line)
        if event.get("event") == "qflux ready":
            return {
                k: int(v.rsplit(":", 1)[1])
                for k, v in event.items()
                if k in {"trinoHttp", "adminApi"}
            }
    raise AssertionError("qflux did not become ready")


def test_serve_embedded_default_answers_and_exits_0_on_sigterm():
    process = qflux_command(
        "serve", "--trino-port", "0", "--admin-port", "0", "--log-format", "json"
    )
    try:
        ports = ready_ports(process)
        cur = trino.dbapi.connect(host="127.0.0.1", port=ports["trinoHttp"], user="me").cursor()
        cur.execute("SELECT 42")
        assert cur.fetchall() == [[42]]
        health = requests.get(f"http://127.0.0.1:{ports['adminApi']}/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()


def test_port_in_use_gives_a_one_line_error_naming_the_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = qflux_command(
            "serve", "--host", "127.0.0.1", "--trino-port", str(port), "--admin-port", "0"
        )
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port}" in lines[0] and "--trino-port" in lines[0]


def test_check_reports_problems_with_paths(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "clusters:\n  d: {engine: duckDb}\n"
        "clusterGroups:\n"
        "  g: {members: [d, nope], maxRunningQueries: 1, strategy: {type: roundrobin}}\n"
        "routingFallback: g\n"
    )
    process = qflux_command("check", str(bad))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "clusterGroups.g.strategy.type: unknown 'roundrobin'" in stderr
    good = qflux_command("check", str(EXAMPLES / "minimal-duckdb.yaml"))
    out, err = good.communicate(timeout=30)
    assert good.returncode == 0, err
    assert "OK" in out


def test_version_command():
    out = subprocess.run(
        [sys.executable, "-m", "qflux.cli", "version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"qflux {qflux.__version__}"


def test_shutdown_lets_running_queries_finish_and_refuses_new_ones(make_proxy):
    config = duckdb_config()
    config["queryflux"] = {"shutdownGraceSecs": 30}
    with make_proxy(config) as proxy:
        reader = TrinoQuery(low_level_request(proxy), "SELECT * FROM range(500000) t(i)")
        result = reader.execute()
        wait_until(lambda: group_load(proxy)[0] == 1)
        stopper = threading.Thread(target=lambda: proxy.call_async(proxy.server.shutdown))
        stopper.start()
        wait_until(lambda: proxy.server.draining)
        admin = proxy.address("adminApi")[1]
        assert requests.get(f"http://127.0.0.1:{admin}/health").status_code == 503
        with pytest.raises(trino.exceptions.TrinoQueryError) as refused:
            connect(proxy).cursor().execute("SELECT 1")
        assert refused.value.error_name == "SERVER_SHUTTING_DOWN"
        assert sum(1 for _ in result) == 500000  # the running query drains to the end
        stopper.join(10)
        assert not stopper.is_alive()
        assert record_of(proxy, reader.query_id).status == "FINISHED"


async def test_shutdown_cancels_what_outlives_the_grace_period():
    config = qflux.load_config(
        {
            **duckdb_config(),
            "queryflux": {"frontends": {"trinoHttp": {"port": 0}}, "adminApi": {"port": 0}},
        }
    )
    async with qflux.serve(config) as server:
        handle = server.dispatcher.submit(
            qflux.core.Session(protocol=qflux.core.FrontendProtocol.TRINO_HTTP), "SELECT 1"
        )
        outcome: list[Exception] = []

        async def run_forever() -> None:
            try:
                async with server.dispatcher.run(handle) as result:
                    async for _ in result:
                        await trio.sleep_forever()
            except qflux.core.QueryError as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_forever)
            await trio.sleep(0.1)
            await server.shutdown(grace=0.2)
        assert handle.record.status == "CANCELLED"
        assert handle.record.cancel_reason == CancelReason.SHUTDOWN
        assert outcome and outcome[0].code.name == "CANCELLED"


def test_serve_in_thread_default_config():
    with serve_in_thread() as proxy:
        cur = trino.dbapi.connect(host="127.0.0.1", port=proxy.port(), user="me").cursor()
        cur.execute("SELECT 40 + 2")
        assert cur.fetchall() == [[42]]


@pytest.mark.parametrize("collecting", [True, False])
def test_importing_qflux_leaves_the_garbage_collector_as_it_was(collecting: bool) -> None:
    """The collector is paused while qflux imports, never for the application after."""
    code = (
        "import gc\n"
        f"(gc.enable if {collecting} else gc.disable)()\n"
        "import qflux\n"
        f"assert gc.isenabled() is {collecting}, gc.isenabled()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
