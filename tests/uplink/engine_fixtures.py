"""Fixtures of the national engine tests: a real reference platform on 127.0.0.1 (ephemeral port),
a site configured against it, its store, and engines over that store. Imported by the
test_engine_* modules (not a conftest), so the mqtt and webhook tests of this folder never see them."""
from __future__ import annotations

import pytest
from engine_helpers import APPID, ROSTER, SECRET, load_site, make_engine, open_store, write_site

from sitegate.receiver import Receiver


@pytest.fixture
def receiver(tmp_path):
    rx = Receiver(APPID, SECRET, str(tmp_path / "platform.db"), roster=ROSTER, seed=11)
    rx.start()
    yield rx
    rx.stop()


@pytest.fixture
def site_cfg(tmp_path, receiver):
    return load_site(write_site(tmp_path / "site", receiver.url))


@pytest.fixture
def store(site_cfg):
    s = open_store(site_cfg)
    yield s
    s.close()


@pytest.fixture
def engine(site_cfg, store):
    e = make_engine(site_cfg, store)
    yield e
    e.close()
