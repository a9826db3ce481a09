"""Child process of the webhook SIGKILL test: run the webhook uplink over the store named by the
configuration file in argv[1] until killed."""
import sys
import threading

from sitegate.buffer import Store
from sitegate.config import load
from sitegate.uplink.base import Backoff
from sitegate.uplink.webhook import WebhookUplink


def main() -> None:
    cfg = load(sys.argv[1])
    store = Store.from_config(cfg)
    uplink = WebhookUplink(cfg, store, backoff=Backoff(base_s=0.02, cap_s=0.1), unanswered_delay_s=0.0)
    uplink.idle_sleep_s = 0.02
    print("up", flush=True)
    uplink.run(threading.Event())


if __name__ == "__main__":
    main()
