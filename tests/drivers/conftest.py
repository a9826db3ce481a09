"""Shared by the driver tests: the protocol vectors from ../shared (bytes from outside the code
under test) and a hex dump when two byte strings differ."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vectors" / "vectors.json"


@pytest.fixture(scope="session")
def vectors() -> dict:
    assert VECTORS.is_file(), f"protocol vectors missing at {VECTORS} (../shared from the project root)"
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def _dump(data: bytes) -> list[str]:
    return [f"{i:04x}  {data[i:i + 16].hex(' ')}" for i in range(0, len(data), 16)]


def pytest_assertrepr_compare(op, left, right):
    if op == "==" and isinstance(left, (bytes, bytearray)) and isinstance(right, (bytes, bytearray)):
        first = next((i for i, (a, b) in enumerate(zip(left, right)) if a != b), min(len(left), len(right)))
        lines = [f"bytes differ at offset {first} (0x{first:x}); lengths {len(left)} vs {len(right)}", "left:"]
        lines += _dump(bytes(left)) + ["right:"] + _dump(bytes(right))
        return lines
    return None
