"""pytest fixtures for suites that test against qflux (registered as a pytest plugin).

    def test_report(qflux_proxy):
        conn = trino.dbapi.connect(host="127.0.0.1", port=qflux_proxy.port(), user="me")

Override `qflux_config` in your conftest.py to serve your own clusters; ports are
ephemeral unless your config sets them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qflux.testing import ThreadedServer, serve_in_thread, with_ephemeral_ports


@pytest.fixture
def qflux_config() -> dict[str, Any] | None:
    """The config the `qflux_proxy` fixture serves; None is the embedded DuckDB default."""
    return None


@pytest.fixture
def qflux_proxy(qflux_config: dict[str, Any] | None) -> Iterator[ThreadedServer]:
    """A qflux server on a background thread for the duration of one test."""
    config = with_ephemeral_ports(qflux_config) if qflux_config is not None else None
    with serve_in_thread(config) as proxy:
        yield proxy
