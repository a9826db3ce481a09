"""Footprint fixes found by ``sitegate bench daemon``, kept by tests that fail if they regress
(no size or time is asserted: what is loaded and what is kept open)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading

HEAVY = ("numpy", "shapely", "pyproj", "cv2", "face_recognition", "dlib", "PIL", "qrcode", "tqdm")

# What `sitegate run -c FILE` imports before it starts anything: the whole CLI (every command
# module), its config loader on a config without fences or camera, the runtime, uplink, web and
# the four built-in drivers of the bench site.
IMPORTS_OF_RUN = """
import json, sys
import sitegate.cli as cli
cli.build_parser()
from sitegate.config import load
load(sys.argv[1])
import sitegate.daemon.runtime, sitegate.uplink.profiles, sitegate.web.server, sitegate.buffer.faces
import importlib
from sitegate.drivers.registry import BUILTIN
for name in ("ga467-serial", "wg-udp", "zk-push", "hik-isapi"):
    importlib.import_module(BUILTIN[name].partition(":")[0])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
""" % (HEAVY,)


def test_run_does_not_import_heavy_libraries(site):
    """numpy+shapely+pyproj cost ~35 MB of a Pi's RAM: only fences or a camera may load them."""
    site.write_config('[[devices]]\nid = "t1"\ndriver = "wg-udp"\nlane = "l"\ndirection = "device"\n'
                      'host = "127.0.0.1"\nport = 60000\nserial = 223000001\n')
    done = subprocess.run([sys.executable, "-c", IMPORTS_OF_RUN, str(site.config)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_reader_connections_of_ended_threads_are_closed(site):
    """Each HTTP request runs in a thread of its own; a read connection per ended thread, kept for
    ever, made the daemon grow without bound."""
    store = site.store()
    try:
        def one_request() -> None:
            store.query("SELECT count(*) FROM events")

        for _ in range(50):
            t = threading.Thread(target=one_request)
            t.start()
            t.join()
        store.query("SELECT 1")                      # this thread's own: prunes the ended ones
        assert len(store._readers) <= 2              # this thread's, and at most the last one's
        assert store.query("SELECT count(*) FROM events")[0][0] == 0   # ours still works
    finally:
        store.close()


def test_a_live_threads_connection_is_kept(site):
    store = site.store()
    go, done = threading.Event(), threading.Event()
    result = []

    def long_lived() -> None:
        store.query("SELECT 1")
        go.set()
        done.wait(30)
        result.append(store.query("SELECT count(*) FROM events")[0][0])  # its connection still open

    t = threading.Thread(target=long_lived)
    t.start()
    try:
        go.wait(30)
        for _ in range(5):                           # other threads come and go meanwhile
            other = threading.Thread(target=lambda: store.query("SELECT 1"))
            other.start()
            other.join()
        done.set()
        t.join(30)
        assert result == [0]
    finally:
        done.set()
        store.close()
