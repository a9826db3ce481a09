"""``sitegate demo``: the whole site on simulators and a local reference platform (``make demo``)."""
from __future__ import annotations

import time
from pathlib import Path

SHARED_VIDEO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces" / "short_hamilton_clip.mp4"


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole site on simulators and a local platform (Ctrl-C stops)")
    p.add_argument("--data-dir", default="demo-data", help="where the demo keeps its files; wiped at start "
                                                          "(default %(default)s)")
    p.add_argument("--listen", default="127.0.0.1:8080", help="clerk pages (default %(default)s)")
    p.add_argument("--rate", type=float, default=3.0, help="seconds between passages (default %(default)s)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--video", default=str(SHARED_VIDEO), help="video the demo camera plays")
    p.set_defaults(func=demo)


def demo(args) -> int:
    from sitegate.daemon.logs import setup_logging
    from sitegate.demo.site import DEMO_PASSWORD, DEMO_USER, DemoSite

    setup_logging(max(args.verbose, 1))
    site = DemoSite(Path(args.data_dir), args.listen, rate_s=args.rate, video=Path(args.video))
    cfg_path = site.prepare()
    try:
        site.start(cfg_path)
        rt = site.runtime
        print(f"""
sitegate demo is running — {len(site.people)} workers, devices: {', '.join(site.enabled) or 'none'}
  clerk pages : {rt.url or '(not available)'}   login: {DEMO_USER} / {DEMO_PASSWORD}
  platform    : {site.receiver.url}  (reference receiver; GET {site.receiver.url.rsplit('/', 1)[0]}/stats)
  config      : {cfg_path}
  try         : sitegate status -c {cfg_path}
Ctrl-C stops everything.
""", flush=True)
        end = time.monotonic() + args.duration if args.duration else None
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        site.stop()
    print("demo stopped", flush=True)
    return 0
