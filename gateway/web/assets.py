"""Static files (gateway/web/static/): read once, served with a content hash in their URL so
browsers may cache them for a long time and still see a new version after an upgrade."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
         ".png": "image/png", ".ico": "image/x-icon"}


@lru_cache(maxsize=None)
def asset(name: str) -> tuple[bytes, str] | None:
    """(content, content type) of a file in static/, or None. Only plain file names are served."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    suffix = name[name.rfind("."):] if "." in name else ""
    if suffix not in TYPES:
        return None
    ref = resources.files("sitegate.web").joinpath("static", name)
    try:
        return ref.read_bytes(), TYPES[suffix]
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def asset_url(name: str) -> str:
    found = asset(name)
    version = hashlib.sha256(found[0]).hexdigest()[:10] if found else "0"
    return f"/static/{name}?v={version}"
