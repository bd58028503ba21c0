"""Arrow helpers the frontend encoders share: list-type tests, union rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa


def union_rows(arr: pa.Array, members: Sequence[list[Any]]) -> list[Any]:
    """Each row's value, taken from `members[i]`: the encoded values of the union's i-th
    child (in child order). Works on sliced arrays, whose type codes and offsets
    pyarrow does not shift."""
    union_type = arr.type
    child_of = {code: i for i, code in enumerate(union_type.type_codes)}
    buffers = arr.buffers()
    codes = pa.Array.from_buffers(
        pa.int8(), len(arr), [None, buffers[1]], offset=arr.offset
    ).to_pylist()
    if union_type.mode == "dense":
        positions = pa.Array.from_buffers(
            pa.int32(), len(arr), [None, buffers[2]], offset=arr.offset
        ).to_pylist()
        return [members[child_of[c]][p] for c, p in zip(codes, positions, strict=True)]
    return [members[child_of[c]][i] for i, c in enumerate(codes)]


def is_list_type(t: pa.DataType) -> bool:
    """Any of Arrow's list layouts (list, large, fixed-size, list views)."""
    return (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )
