"""Secrets come from files, never from the command line or the log.

A secret file must not be readable by group or others (mode 0600 or stricter): a world-readable
appsecret on a shared site PC is as good as published.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from sitegate.errors import UsageError


class SecretFileError(UsageError):
    pass


def secret_file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot serve as a secret file, or None."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        return f"secret file {p} does not exist"
    except OSError as exc:
        return f"secret file {p} cannot be read: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return f"secret file {p} is not a regular file"
    if st.st_mode & 0o077:
        return f"secret file {p} has mode {stat.S_IMODE(st.st_mode):04o}; it must be 0600 (chmod 600 {p})"
    return None


def read_secret(path: str | os.PathLike) -> str:
    """The secret in ``path``, stripped of surrounding whitespace."""
    problem = secret_file_problem(path)
    if problem:
        raise SecretFileError(problem)
    value = Path(path).read_text(encoding="utf-8").strip()
    if not value:
        raise SecretFileError(f"secret file {path} is empty")
    return value


def write_secret(path: str | os.PathLike, value: str | bytes) -> None:
    """Create ``path`` with mode 0600 from the start (no window in which it is readable)."""
    data = value.encode() if isinstance(value, str) else value
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
