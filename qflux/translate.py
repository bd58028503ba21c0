"""SQL dialect translation between the client's protocol dialect and the engine's.

Identity for now: the sqlglot-backed translator replaces this function without
changing its signature, so dispatch does not change when it lands.
"""

from __future__ import annotations

from qflux.core import EngineType, Session


def translate(sql: str, session: Session, target: EngineType) -> str:
    """Return `sql` rewritten for `target`'s dialect (currently passed through)."""
    return sql
