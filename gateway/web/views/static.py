"""Static files: the stylesheet (and whatever else lives in gateway/web/static/)."""
from __future__ import annotations

from sitegate.web.assets import asset
from sitegate.web.http import HttpError, Response


def serve(app, req) -> Response:
    found = asset(req.params["name"])
    if found is None:
        raise HttpError(404, "no such file")
    body, ctype = found
    return Response(200, body, ctype, cacheable=True)


def favicon(app, req) -> Response:
    # browsers ask for it on every site; an empty answer keeps 404s out of the logs
    return Response(204, b"", "image/x-icon", cacheable=True)
