"""The page shell (head, navigation, messages) and the few building blocks every page uses.

Everything here returns ``Markup``; values passed in are escaped (see markup.py). No inline script
or style anywhere: the Content-Security-Policy is ``default-src 'self'``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from sitegate.web.markup import Markup, attrs, escape
from sitegate.web.assets import asset_url

# (path, label, badge key): the order clerks asked for, daily things first
NAV = (
    ("/onsite", "在场人员", ""),
    ("/attendance", "今日考勤", ""),
    ("/roster", "花名册", ""),
    ("/manual", "补卡", ""),
    ("/reviews", "待审核", "reviews"),
    ("/uplink", "上传状态", ""),
    ("/dead-letters", "死信", "dead_letters"),
    ("/devices", "设备", ""),
)


@dataclass
class Frame:
    """What the shell shows around a page: site, user, CSRF token for the logout form, badges."""

    site_name: str
    display_name: str = ""
    csrf: str = ""
    badges: dict[str, int] = field(default_factory=dict)
    flashes: list[tuple[str, str]] = field(default_factory=list)    # (kind: ok|error|info, text)


def page(frame: Frame, title: str, body: Markup, *, active: str = "") -> Markup:
    if not isinstance(body, Markup):
        raise TypeError("page() takes the body as Markup (see sitegate.web.markup), not a plain str")
    nav = Markup("").join(_nav_item(path, text, frame.badges.get(key, 0), path == active) for path, text, key in NAV)
    user = Markup("")
    if frame.csrf:
        user = Markup(
            '<div class="who"><span>{}</span>'
            '<form method="post" action="/logout" class="inline">{}<button type="submit" class="link">退出</button></form>'
            "</div>").format(frame.display_name, csrf_field(frame.csrf))
    flashes = Markup("").join(Markup('<p class="flash {}" role="status">{}</p>').format(kind, text)
                              for kind, text in frame.flashes)
    return Markup(
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} · {site}</title>"
        '<link rel="stylesheet" href="{css}"></head>'
        '<body><header class="top"><a class="brand" href="/onsite">{site}</a>{user}</header>'
        '{nav}<main id="main"><h1>{title}</h1>{flashes}{body}</main>'
        '<footer class="foot">sitegate · 身份证号一律脱敏显示</footer></body></html>'
    ).format(title=title, site=frame.site_name, css=asset_url("style.css"), user=user,
             nav=Markup('<nav class="nav" aria-label="主菜单">{}</nav>').format(nav) if frame.csrf else Markup(""),
             flashes=flashes, body=body)


def _nav_item(path: str, text: str, badge: int, active: bool) -> Markup:
    b = Markup(' <span class="badge">{}</span>').format(badge) if badge else Markup("")
    return Markup("<a{}>{}{}</a>").format(attrs(href=path, class_="active" if active else None,
                                                aria_current="page" if active else None), text, b)


def csrf_field(token: str) -> Markup:
    return Markup('<input type="hidden" name="csrf" value="{}">').format(token)


Cell = Callable[[Any], Any]


def table(columns: Sequence[tuple[str, Cell]], rows: Iterable[Any], *, empty: str = "暂无记录",
          cls: str = "") -> Markup:
    """A table that becomes stacked cards on a phone: each cell carries its column label."""
    rows = list(rows)
    if not rows:
        return Markup('<p class="empty">{}</p>').format(empty)
    head = Markup("").join(Markup("<th scope=\"col\">{}</th>").format(label) for label, _ in columns)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(
            Markup('<td data-label="{}">{}</td>').format(label, escape(cell(row))) for label, cell in columns))
        for row in rows)
    return Markup('<div class="tablewrap"><table class="cards {}"><thead><tr>{}</tr></thead><tbody>{}</tbody>'
                  "</table></div>").format(cls, head, body)


def facts(pairs: Iterable[tuple[str, Any]]) -> Markup:
    """A definition list of label: value."""
    return Markup('<dl class="facts">{}</dl>').format(Markup("").join(
        Markup("<dt>{}</dt><dd>{}</dd>").format(k, v if v not in (None, "") else "—") for k, v in pairs))


def badge(text: str, kind: str) -> Markup:
    return Markup('<span class="tag {}">{}</span>').format(kind, text)


def link(href: str, text: Any) -> Markup:
    return Markup('<a href="{}">{}</a>').format(href, text)


def pager(base: str, params: dict[str, Any], page_no: int, pages: int) -> Markup:
    """Previous / next links keeping the other query parameters."""
    from urllib.parse import urlencode

    if pages <= 1:
        return Markup("")

    def href(n: int) -> str:
        return base + "?" + urlencode({**{k: v for k, v in params.items() if v not in (None, "")}, "page": n})

    prev = link(href(page_no - 1), "‹ 上一页") if page_no > 1 else Markup("")
    nxt = link(href(page_no + 1), "下一页 ›") if page_no < pages else Markup("")
    return Markup('<nav class="pager" aria-label="分页">{}<span>第 {} / {} 页</span>{}</nav>').format(
        prev, page_no, pages, nxt)


def error_body(message: str) -> Markup:
    return Markup('<p class="flash error" role="alert">{}</p><p><a href="/onsite">返回首页</a></p>').format(message)
