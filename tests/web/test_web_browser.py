"""The clerk's day in a real headless Chromium (Debian's, never a downloaded one): log in, find a
worker, add a 补卡, see it in today's attendance — on a desk screen and on a 390 px phone.
Screenshots go to test-artifacts/ at the repository root."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from web_helpers import ID_RE, IDS, PASSWORD, PINS

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]

VIEWPORTS = {"desk": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield b
        finally:
            b.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def login(page, base: str) -> None:
    page.goto(base + "/onsite")
    assert "/login" in page.url                         # not logged in: sent to the login page
    page.fill("input[name=username]", "clerk")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/onsite")


@pytest.mark.parametrize("screen", list(VIEWPORTS))
def test_find_a_worker_add_a_supplementary_clockin_and_see_it_in_attendance(gw, browser, screen):
    ctx = browser.new_context(viewport=VIEWPORTS[screen], locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        login(page, gw.base)
        assert page.locator("h1").inner_text() == "在场人员"
        shot(page, f"{screen}-onsite-empty")

        # roster search by the last 4 digits of the ID number
        page.click("nav >> text=花名册")
        page.fill("input[name=q]", IDS[0][-4:])
        with page.expect_navigation():
            page.click("form[role=search] button[type=submit]")
        rows = page.locator("table.cards tbody tr")
        assert rows.count() == 1
        assert "张三" in rows.first.inner_text()
        assert "370102********" + IDS[0][-4:] in rows.first.inner_text()
        shot(page, f"{screen}-roster-search")

        # the worker's page, then 补卡 for them
        with page.expect_navigation():
            page.click("table.cards >> text=张三")
        assert page.url.endswith(f"/workers/{PINS[0]}")
        with page.expect_navigation():
            page.click("text=为此工人补卡")
        assert page.input_value("input[name=who]") == str(PINS[0])
        page.check("input[name=direction][value=in]")
        page.fill("input[name=time]", "2025-06-10T07:30")
        page.fill("input[name=channel]", "东门")
        page.fill("textarea[name=reason]", "闸机故障，未读到卡")
        shot(page, f"{screen}-manual-form")
        with page.expect_navigation():
            page.click("form.stack button[type=submit]")
        assert "补卡已记录" in page.inner_text("main")
        event_id = re.search(r"done=([0-9a-f-]{36})", page.url).group(1)
        assert event_id in page.inner_text("main")
        shot(page, f"{screen}-manual-done")

        # today's attendance shows the entry at 07:30
        page.click("nav >> text=今日考勤")
        page.wait_for_url("**/attendance")
        team = page.locator("section.team", has_text="张三")
        assert "2025-06-10 07:30:00" in team.inner_text()
        shot(page, f"{screen}-attendance")

        # nothing on any page shows an ID number in full
        for path in ("/onsite", "/attendance", "/roster", f"/workers/{PINS[0]}"):
            page.goto(gw.base + path)
            assert not ID_RE.search(page.content()), path
        if screen == "phone":
            # the table became cards: no sideways scrolling on a phone
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= VIEWPORTS["phone"]["width"], width
        assert errors == [], errors            # e.g. a CSP violation would show up here
    finally:
        ctx.close()


def test_logging_out_in_the_browser(gw, browser):
    ctx = browser.new_context(viewport=VIEWPORTS["phone"])
    page = ctx.new_page()
    try:
        login(page, gw.base)
        with page.expect_navigation():
            page.click("text=退出")
        assert page.url.endswith("/login")
        page.goto(gw.base + "/roster")
        assert "/login" in page.url
    finally:
        ctx.close()
