"""``sitegate demo``: the whole site on simulators and a local reference platform (``make demo``).

Ctrl-C (SIGINT) or SIGTERM stops everything and exits 0; a second Ctrl-C while stopping gives up
waiting (exit 130).
"""
from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# The sample clip ships with the shared test data next to the repository (it is 600 KB of
# someone else's video: not copied into the package). Elsewhere give --video.
SHARED_VIDEO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces" / "short_hamilton_clip.mp4"


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole site on simulators and a local platform (Ctrl-C stops)")
    p.add_argument("--data-dir", default="demo-data", help="where the demo keeps its files; an earlier demo's "
                                                          "folder is wiped at start (default %(default)s)")
    p.add_argument("--listen", default="127.0.0.1:8080", help="clerk pages (default %(default)s; port 0: any free)")
    p.add_argument("--rate", type=float, default=3.0, help="seconds between passages at the gates "
                                                           "(default %(default)s)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--video", default=str(SHARED_VIDEO), help="video the demo camera plays (default: the sample "
                                                             "clip of the shared test data)")
    p.set_defaults(func=demo)


def demo(args) -> int:
    from sitegate.daemon.logs import setup_logging
    from sitegate.demo.site import DEMO_PASSWORD, DEMO_USER, DemoSite
    from sitegate.errors import UsageError

    if args.rate <= 0:
        raise UsageError("--rate must be greater than 0 seconds")
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be greater than 0 seconds")
    setup_logging(max(args.verbose, 1))
    stop = threading.Event()
    previous = _on_stop_signals(stop)
    # set-up steps (the face enrolment) end early on Ctrl-C too
    site = DemoSite(Path(args.data_dir), args.listen, rate_s=args.rate, video=Path(args.video) if args.video else None,
                    stop_event=stop)
    try:
        cfg_path = site.prepare()       # on failure it stops what it started and raises
        try:
            if not stop.is_set():
                site.start(cfg_path)
                _banner(site, cfg_path, DEMO_USER, DEMO_PASSWORD)
                stop.wait(args.duration)
        finally:
            # a second Ctrl-C while stopping gives up waiting (KeyboardInterrupt: exit 130)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            print("\nstopping…", flush=True)
            site.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    left = [t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    if left:
        log.warning("demo: threads still running after stop: %s", ", ".join(sorted(left)))
    print("demo stopped", flush=True)
    return 0


def _on_stop_signals(stop: threading.Event) -> dict:
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def _banner(site, cfg_path: Path, user: str, password: str) -> None:
    rt = site.runtime
    skipped = "".join(f"\n  skipped     : {part}: {why}" for part, why in site.skipped.items())
    print(f"""
sitegate demo is running — {len(site.people)} workers, devices: {', '.join(site.enabled) or 'none'}, \
phones: {', '.join(p.phone_id for p in site.phones) or 'none'}{skipped}
  clerk pages : {rt.url}   login: {user} / {password}
  platform    : {site.receiver.url}  (reference receiver; GET {site.stats_url})
  config      : {cfg_path}
  try         : sitegate status -c {cfg_path}
Ctrl-C stops everything.
""", flush=True)
