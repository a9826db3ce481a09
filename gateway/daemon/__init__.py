"""The daemon: the runtime that wires store, devices, uplink and web together, and its supervisor."""
