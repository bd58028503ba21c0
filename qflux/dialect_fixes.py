"""qflux's corrections to sqlglot, applied to the parsed tree before the target is written.

Each fix names the (source, target) pair it is for and the construct it repairs, so
the list reads as a record of where sqlglot and the engines disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Fix = Callable[[Any], Any]

#: (source dialect, target dialect) -> fixes, applied in order.
FIXES: dict[tuple[str, str], list[Fix]] = {}


def apply(tree: Any, source: str, target: str) -> Any:
    for fix in FIXES.get((source, target), ()):
        tree = fix(tree)
    return tree
