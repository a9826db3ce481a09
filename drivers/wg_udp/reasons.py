"""Reason codes of WG controller records (byte 27): text and category.

Table from reference/protocols.md §2 (vendor WGController32 samples; uhppote-core's event reason
list). Categories: 'granted' (1-4), 'denied' (5-19), 'door_event' (door, button, power, remote:
20-33, 44-45), 'alarm' (34-43); anything else is 'unknown' and keeps its number visible.
"""
from __future__ import annotations

GRANTED = "granted"
DENIED = "denied"
DOOR_EVENT = "door_event"
ALARM = "alarm"
UNKNOWN = "unknown"

REASONS: dict[int, str] = {
    1: "card swiped, passed",
    2: "passed (2)",
    3: "passed (3)",
    4: "passed (4)",
    5: "denied: door under PC control",
    6: "denied: no privilege",
    7: "denied: wrong password",
    8: "denied: anti-passback",
    9: "denied: more cards needed (multi-card)",
    10: "denied: waiting for the first card",
    11: "denied: door set normally closed",
    12: "denied: interlock",
    13: "denied: limited number of passes used up",
    14: "denied: people limit reached",
    15: "denied: card expired or outside its time zone",
    16: "denied: wrong order",
    17: "denied: swiped again too soon",
    18: "denied (no reason given)",
    19: "denied: limited number of passes used up",
    20: "push button",
    21: "door event (21)",
    22: "door event (22)",
    23: "door opened",
    24: "door closed",
    25: "super password opened the door",
    26: "door event (26)",
    27: "door event (27)",
    28: "controller powered on",
    29: "controller reset",
    30: "push button invalid",
    31: "push button invalid: door forced locked",
    32: "push button invalid: controller not online",
    33: "push button invalid: interlock",
    34: "duress (threat) alarm",
    35: "duress alarm (35)",
    36: "duress alarm (36)",
    37: "door held open too long",
    38: "forced entry",
    39: "fire alarm",
    40: "forced close",
    41: "anti-theft alarm",
    42: "24-hour zone alarm",
    43: "emergency call",
    44: "remote open door",
    45: "remote open door (USB reader)",
}


def category(code: int) -> str:
    if 1 <= code <= 4:
        return GRANTED
    if 5 <= code <= 19:
        return DENIED
    if 20 <= code <= 33 or code in (44, 45):
        return DOOR_EVENT
    if 34 <= code <= 43:
        return ALARM
    return UNKNOWN


def text(code: int) -> str:
    return REASONS.get(code, f"reason {code} (unknown)")
