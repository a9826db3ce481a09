"""Uplink profiles: one module per platform dialect behind one interface (national OpenAPI, …)."""
