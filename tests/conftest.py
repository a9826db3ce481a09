"""Fixtures the whole suite shares: a site (config + data dir), ID numbers, running the CLI."""
from __future__ import annotations

import io
import os
import random
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VENV_PYTHON = sys.executable


def make_id(seed: int, region: str = "370102", birth: str = "19851120") -> str:
    """A valid 18-digit resident ID number (GB 11643 check digit), different for each seed."""
    from sitegate.idcard import check_digit

    first17 = f"{region}{birth}{seed % 1000:03d}"
    return first17 + check_digit(first17)


@pytest.fixture
def ids():
    return [make_id(i) for i in range(1, 51)]


class Site:
    """A configuration file and data directory in a temp dir, and the CLI run in-process."""

    def __init__(self, root: Path, extra: str = ""):
        self.root = root
        self.data_dir = root / "data"
        self.config = root / "sitegate.toml"
        self.write_config(extra)

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(
            f"""[site]
project_code = "370102202300001"
gateway_id = "gw-test"
data_dir = "{self.data_dir}"

[uplink]
enabled = false
{extra}
""",
            encoding="utf-8",
        )

    def cli(self, *argv: str) -> tuple[int, str, str]:
        """Run ``sitegate ARGV`` (with -c added after the subcommands) and capture its output."""
        from sitegate.cli import main

        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 2
        return code, out.getvalue(), err.getvalue()

    def store(self):
        from sitegate.buffer import Store

        return Store.open(self.data_dir)


@pytest.fixture
def site(tmp_path) -> Site:
    return Site(tmp_path)


@pytest.fixture
def rng():
    return random.Random(1234)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED




@pytest.fixture(scope="session")
def example_driver():
    """The third-party example driver (tests/example_driver), installed through its entry point as a
    vendor's package would be. Installed into the test venv on first use."""
    import importlib.metadata
    import subprocess

    from sitegate.drivers import registry

    try:
        importlib.metadata.distribution("sitegate-wiegand-lines")
    except importlib.metadata.PackageNotFoundError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
                        "-e", str(REPO / "tests" / "example_driver")], check=True)
        importlib.invalidate_caches()
    # an editable install is put on sys.path by a .pth file, read only when Python starts: a
    # fresh venv's first test run must add it itself (new processes see it anyway)
    if str(REPO / "tests" / "example_driver") not in sys.path:
        sys.path.append(str(REPO / "tests" / "example_driver"))
    registry.refresh()
    return "wiegand-lines"
