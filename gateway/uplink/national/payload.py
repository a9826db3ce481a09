"""The ``data`` field's serialisation, shared by every method of the profile."""
from __future__ import annotations

import json
from typing import Any


def dump_data(data: Any) -> str:
    """Compact JSON, non-ASCII kept as is, key order as given: byte-for-byte reproducible.

    A string is taken to be JSON already and returned unchanged (a stored batch being resent).
    """
    if isinstance(data, str):
        return data
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
