"""Child process of the engine crash test: the gateway's uplink over a store, plus a producer that
keeps appending events (as gates would) and prints each event id once ``append`` has returned
(durable). The parent SIGKILLs it at random moments and starts it again.

    python engine_crash_child.py CONFIG ROUND
"""
import os
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engine_helpers import TEAM_A, TEAM_B, event, load_site, make_engine, open_store

# one base for every round: events of different rounds never share a natural key
BASE = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def main() -> None:
    cfg = load_site(Path(sys.argv[1]))
    round_no = int(sys.argv[2])
    store = open_store(cfg)
    engine = make_engine(cfg, store, workers=2)
    stop = threading.Event()

    def produce() -> None:
        for i in range(400):                      # 400 s of a round's own time slot
            seq = round_no * 400 + i
            ev = event(seq % 60 + 1, 0, team=TEAM_A if seq % 3 else TEAM_B, wall=BASE + timedelta(seconds=seq))
            store.append(ev)
            os.write(1, (ev.event_id + "\n").encode())    # one write per line: atomic on a pipe
            stop.wait(0.01)

    os.write(1, b"ready\n")                      # before the producer's first line
    threading.Thread(target=produce, daemon=True).start()
    engine.run(stop)


if __name__ == "__main__":
    main()
