"""One module per page: ``data(ctx, req)`` gives the JSON, ``render(ctx, req, data)`` the HTML body."""
