"""MQTT v5 reason codes the engine acts on (OASIS MQTT Version 5.0, §3.2.2.2 CONNACK and §3.4.2.1
PUBACK). Any code below 0x80 is a success; 0x10 "No matching subscribers" is still a PUBACK that
the broker took the message.

Refusals that a retry cannot fix are configuration faults (alarm, stop until reload); the rest
are transient (back off, try again).
"""
from __future__ import annotations

SUCCESS_LIMIT = 0x80

# CONNACK: wrong credentials, client id or authorisation; will or protocol the broker refuses;
# "use another server" / "server moved" (the configured host is not the one to use).
CONNACK_CONFIG_FAULTS = frozenset({
    0x84,  # Unsupported Protocol Version
    0x85,  # Client Identifier not valid
    0x86,  # Bad User Name or Password
    0x87,  # Not authorized
    0x8A,  # Banned
    0x8C,  # Bad authentication method
    0x90,  # Topic Name invalid (the will topic)
    0x9A,  # Retain not supported (the will and the status are retained)
    0x9B,  # QoS not supported
    0x9C,  # Use another server
    0x9D,  # Server moved
})

# PUBACK: the broker will never take messages on this topic from this user.
PUBACK_CONFIG_FAULTS = frozenset({
    0x87,  # Not authorized (the broker's ACL)
    0x90,  # Topic Name invalid
})


def is_success(code: int) -> bool:
    return code < SUCCESS_LIMIT
