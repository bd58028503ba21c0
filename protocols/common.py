"""What every sans-IO machine shares: the NEED_DATA sentinel and the error hierarchy."""

from __future__ import annotations

import enum
from typing import Literal


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA = _Sentinel.NEED_DATA
"""`next_event()` needs more bytes (or is waiting for our reply) before it can go on."""

#: The type of NEED_DATA, for annotations.
NeedData = Literal[_Sentinel.NEED_DATA]


class ProtocolError(Exception):
    """Base of both error kinds, so a driver can catch either in one clause."""


class LocalProtocolError(ProtocolError):
    """Our own code misused the machine (wrong state, unencodable event): a bug here."""
