"""sitegate's own exception types: library code raises only these (and lets programming errors
through), so the CLI and the daemon can map them to exit codes, alarms and counters."""


class SitegateError(Exception):
    """Base of every error sitegate raises on purpose."""


class UsageError(SitegateError):
    """Bad input from the person at the keyboard: the CLI exits 2 with this message."""


class ConfigError(UsageError):
    """The configuration is invalid; ``problems`` holds one ``FILE:LINE: key: what`` line each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ProtocolError(SitegateError):
    """Bytes from a device or peer that do not follow its protocol (counted, then skipped)."""


class StoreError(SitegateError):
    """The durable store could not do what was asked."""


class StoreFull(StoreError):
    """The disk quota is exhausted: the event was NOT stored (the caller must not acknowledge)."""
