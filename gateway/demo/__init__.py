"""``sitegate demo``: the whole site on simulators and a local reference platform."""
