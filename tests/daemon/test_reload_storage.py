"""SIGHUP applies [storage] limits at once: an operator reserving disk (or freeing it) must not
have to restart the gateway. Found by the soak harness's disk-full fault."""
from __future__ import annotations

import shutil

import pytest

from tests.foundation.helpers import event

from sitegate.config import loads
from sitegate.daemon.runtime import Runtime
from sitegate.errors import StoreFull


def _config(data, min_free_mb: int) -> str:
    return (f'[site]\nproject_code = "370102202300001"\ngateway_id = "gw"\ndata_dir = "{data}"\n'
            f'[uplink]\nenabled = false\n[http]\nlisten = "127.0.0.1:0"\n'
            f'[storage]\nmin_free_mb = {min_free_mb}\n')


def test_a_reload_applies_min_free_mb_without_a_restart(tmp_path, ids):
    data = tmp_path / "data"
    path = tmp_path / "sitegate.toml"
    path.write_text(_config(data, 1), encoding="utf-8")
    runtime = Runtime(loads(path.read_text(encoding="utf-8"), str(path)), config_path=str(path))
    runtime.start()
    try:
        free_mb = shutil.disk_usage(data).free // (1024 * 1024)
        path.write_text(_config(data, free_mb + 1024), encoding="utf-8")
        assert runtime.reload()
        assert runtime.store.min_free_bytes == (free_mb + 1024) * 1024 * 1024
        with pytest.raises(StoreFull, match="MB free"):
            runtime.store.append(event(ids[0]))
        path.write_text(_config(data, 1), encoding="utf-8")
        assert runtime.reload()
        runtime.store.append(event(ids[0]))       # taken again
        assert len(runtime.store.events()) == 1
    finally:
        runtime.stop()
