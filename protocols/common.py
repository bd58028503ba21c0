"""What every sans-IO machine shares: the NEED_DATA sentinel and the error hierarchy."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, Literal, TypeVar

S = TypeVar("S", bound=enum.Enum)


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = _Sentinel.NEED_DATA
"""`next_event()` needs more bytes (or is waiting for our reply) before it can go on."""

#: The type of NEED_DATA, for annotations.
NeedData = Literal[_Sentinel.NEED_DATA]


class ProtocolError(Exception):
    """Base of both error kinds, so a driver can catch either in one clause."""


class LocalProtocolError(ProtocolError):
    """Our own code misused the machine (wrong state, unencodable event): a bug here."""


def transition(table: Mapping[tuple[S, str], S], state: S, trigger: str) -> S:
    """The state `trigger` leads to from `state`; a trigger the table lacks is our bug."""
    new = table.get((state, trigger))
    if new is None:
        raise LocalProtocolError(f"cannot {trigger} in state {state.name}")
    return new
