"""The SQLite store-and-forward: events, deliveries, roster cache, photos, retention."""
from sitegate.buffer.deliveries import DeliveryQueue, backlog, release_held, status
from sitegate.buffer.roster import Roster, Worker
from sitegate.buffer.store import Store

__all__ = ["DeliveryQueue", "Roster", "Store", "Worker", "backlog", "release_held", "status"]
