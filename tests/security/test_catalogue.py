"""docs/security.md cannot rot: every test it names exists, every row of the bad-input catalogue
names one (or says which open issue it is), every fuzz file it lists really is a hypothesis test,
and every file in tests/fuzz/ is listed there."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
NODE_ID = re.compile(r"(tests/[\w/]+\.py)::([\w:]+)")
TEST_FILE = re.compile(r"(tests/[\w/]+\.py)(?!::)")


def doc_text() -> str:
    assert DOC.is_file(), f"{DOC} is missing"
    return DOC.read_text(encoding="utf-8")


def section(title: str) -> str:
    text = doc_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[1:]       # without the header


def defined_names(path: Path) -> set[str]:
    """Test functions and Class::method names defined in a test module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {f"{node.name}::{f.name}" for f in node.body
                      if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return names


def test_parse_rejects_what_it_should():
    # the checker itself must be able to fail: a missing function is not "defined"
    assert "test_defined_names_sees_itself" not in defined_names(Path(__file__))
    assert "test_parse_rejects_what_it_should" in defined_names(Path(__file__))


NAMED = sorted(set(NODE_ID.findall(doc_text())))


def test_the_doc_names_tests():
    assert len(NAMED) >= 40, "docs/security.md should name the tests behind its claims"


@pytest.mark.parametrize("path,name", NAMED, ids=[f"{p}::{n}" for p, n in NAMED])
def test_every_named_test_exists(path, name):
    file = ROOT / path
    assert file.is_file(), f"docs/security.md names {path}, which does not exist"
    assert name in defined_names(file), f"docs/security.md names {path}::{name}, which is not defined there"


def test_every_catalogue_row_names_a_test_or_an_open_issue():
    rows = table_rows(section("Bad-input catalogue"))
    assert len(rows) >= 40
    kinds = set()
    for row in rows:
        assert len(row) == 4, f"catalogue row needs 4 cells: {row}"
        inp, attack, refusal, test = row
        assert inp and attack and refusal, row
        kinds |= {k for k in ("malformed", "oversized", "replay", "forged", "inject") if k in attack.lower()}
        if test in ("—", "-", ""):
            assert "open issue" in refusal, f"row without a test must point at an open issue: {row}"
        else:
            assert NODE_ID.fullmatch(test), f"the test cell must be path::name: {test!r}"
    assert kinds == {"malformed", "oversized", "replay", "forged", "inject"}, kinds


def test_every_file_named_exists():
    for path in sorted(set(TEST_FILE.findall(doc_text()))):
        assert (ROOT / path).is_file(), f"docs/security.md names {path}, which does not exist"


def test_every_fuzz_table_file_is_a_property_test():
    rows = table_rows(section("Fuzzing: every parser of outside input"))
    assert len(rows) >= 15
    for row in rows:
        files = set(TEST_FILE.findall(row[-1])) | {p for p, _ in NODE_ID.findall(row[-1])}
        assert files, f"fuzz row names no test file: {row}"
        for path in files:
            text = (ROOT / path).read_text(encoding="utf-8")
            assert "@given" in text, f"{path} (listed as fuzz coverage of {row[0]}) has no hypothesis test"
            for limit in re.findall(r"max_examples\s*=\s*(\d+)", text):
                assert int(limit) <= 1000, f"{path}: max_examples={limit} is not a bounded CI run"


def test_every_fuzz_file_is_listed():
    listed = doc_text()
    for path in sorted((ROOT / "tests" / "fuzz").glob("test_*.py")):
        rel = path.relative_to(ROOT).as_posix()
        assert rel in listed, f"{rel} is not listed in docs/security.md"
