"""登录 / 退出, for the pages (form + cookie) and for the JSON API (``/api/login``, ``/api/me``)."""
from __future__ import annotations

from sitegate.web.http import HttpError, Response, html_response, json_response, redirect, safe_next
from sitegate.web.layout import Frame, page
from sitegate.web.markup import Markup
from sitegate.web.sessions import COOKIE


def session_cookie(token: str, tls: bool) -> str:
    return f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/" + ("; Secure" if tls else "")


def clear_cookie(tls: bool) -> str:
    return f"{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0" + ("; Secure" if tls else "")


def _login_form(app, next_path: str, username: str = "", error: str = "", status: int = 200) -> Response:
    err = Markup('<p class="flash error" role="alert">{}</p>').format(error) if error else Markup("")
    body = err + Markup(
        '<form class="stack login" method="post" action="/login">'
        '<input type="hidden" name="next" value="{}">'
        '<label>用户名<input name="username" value="{}" autocomplete="username" required autofocus></label>'
        '<label>密码<input type="password" name="password" autocomplete="current-password" required></label>'
        '<button type="submit">登录</button>'
        '<p class="hint">账户由管理员在网关上用 <code>sitegate user add</code> 创建。</p></form>'
    ).format(next_path, username)
    return html_response(page(Frame(app.ctx.site_name), "登录", body), status)


def get_login(app, req) -> Response:
    if app.current_session(req) is not None:
        return redirect(safe_next(req.query.get("next")))
    return _login_form(app, safe_next(req.query.get("next")))


def post_login(app, req) -> Response:
    f = req.form()
    username = f.get("username", "")
    result = app.login.attempt(username, f.get("password", ""), req.remote, app.ctx.now())
    if not result.ok:
        app.metrics_rejected("login_failed")
        return _login_form(app, safe_next(f.get("next")), username[:64], result.message, result.status)
    old = req.cookie(COOKIE)
    if old:
        app.sessions.end(old)       # a new login never keeps the session it replaces
    resp = redirect(safe_next(f.get("next")))
    resp.headers.append(("Set-Cookie", session_cookie(result.token, req.tls)))
    return resp


def post_logout(app, req) -> Response:
    app.sessions.end(req.cookie(COOKIE) or "")
    resp = redirect("/login")
    resp.headers.append(("Set-Cookie", clear_cookie(req.tls)))
    return resp


def _me(session) -> dict:
    return {"username": session.username, "display_name": session.display_name, "role": session.role,
            "csrf": session.csrf}


def api_login(app, req) -> Response:
    body = req.json()
    username, password = body.get("username", ""), body.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str):
        raise HttpError(400, "username and password must be strings")
    result = app.login.attempt(username, password, req.remote, app.ctx.now())
    if not result.ok:
        app.metrics_rejected("login_failed")
        return json_response({"error": result.message}, result.status)
    resp = json_response(_me(result.session))
    resp.headers.append(("Set-Cookie", session_cookie(result.token, req.tls)))
    return resp


def api_logout(app, req) -> Response:
    app.sessions.end(req.cookie(COOKIE) or "")
    resp = json_response({"ok": True})
    resp.headers.append(("Set-Cookie", clear_cookie(req.tls)))
    return resp


def api_me(app, req) -> Response:
    return json_response(_me(req.session))
