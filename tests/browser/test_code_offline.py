"""The 医保码 page offline (issue 11 item 9): the code stays shown until it expires, with its
countdown and a 重试 button; then it is hidden; back online, 重试 shows a fresh code.

The page's clock is Playwright's (``page.clock``), so the test moves time instead of waiting.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.helpers import log_in


def test_offline_code_stays_until_it_expires_then_retry(live_server, insured_phone, phone,
                                                      screenshot):
    page = phone()
    page.clock.install()
    log_in(page, live_server.url, insured_phone)
    page.goto(f"{live_server.url}/code/me")
    root = page.locator("[data-code-page]")
    valid = int(root.get_attribute("data-valid-seconds"))
    first = root.get_attribute("data-code")
    expect(page.locator("[data-qr-box]")).to_be_visible()

    page.context.set_offline(True)
    offline = page.locator("[data-offline]")
    expect(offline).to_be_visible()
    expect(offline).to_contain_text("网络已断开")
    expect(offline).to_contain_text("当前码仍可出示")
    expect(page.get_by_role("button", name="重试")).to_be_visible()
    # The code is still shown, and its countdown now counts its validity.
    expect(page.locator("[data-qr-box]")).to_be_visible()
    expect(page.locator("[data-display]")).to_have_text(re.compile(first[:6]))
    page.clock.run_for(5_000)
    expect(page.locator(".code-card__countdown")).to_contain_text("秒后失效")
    left = int(page.locator("[data-seconds]").inner_text())
    assert 0 < left < valid
    screenshot(page, "offline-valid")

    # A failed 重试 while still offline keeps the code up.
    page.get_by_role("button", name="重试").click()
    expect(page.locator("[data-qr-box]")).to_be_visible()

    page.clock.run_for((valid + 2) * 1000)
    expect(page.locator("[data-qr-box]")).to_be_hidden()
    polls = counter(page)        # the expired code is no longer polled for
    advance(page, 25)
    assert polls == [], polls
    expect(offline).to_contain_text("当前码已失效")
    expect(offline).to_contain_text("可向收银员出示身份证或社保卡办理")
    screenshot(page, "offline-expired")

    # Back online the page fetches a fresh code by itself.
    page.context.set_offline(False)
    expect(page.locator("[data-qr-box]")).to_be_visible()
    expect(offline).to_be_hidden()
    expect(page.locator("[data-display]")).not_to_have_text(re.compile(first[:6]))
    expect(page.locator(".code-card__countdown")).to_contain_text("秒后自动刷新")

    # The phone online but the server out of reach: the timed refresh fails, the code stays
    # (still valid) with the notice, and 重试 brings a fresh one once the server answers.
    shown = page.locator("[data-display]").inner_text()
    page.route(re.compile(r".*/refresh$"), lambda route: route.abort())
    advance(page, 62)
    expect(offline).to_be_visible()
    expect(page.locator("[data-qr-box]")).to_be_visible()
    expect(page.locator("[data-display]")).to_have_text(shown)
    page.unroute(re.compile(r".*/refresh$"))
    page.get_by_role("button", name="重试").click()
    expect(offline).to_be_hidden()
    expect(page.locator("[data-display]")).not_to_have_text(shown)


def counter(page):
    """How many status polls the page has sent so far (a list to take len of)."""
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/status") else None)
    return polls


def advance(page, seconds: int) -> None:
    """Move the page's clock a second at a time, letting each poll's answer come back."""
    for _ in range(seconds):
        page.clock.run_for(1000)
        page.wait_for_timeout(40)


def test_polling_backs_off_while_nothing_happens(live_server, insured_phone, phone):
    """Every 2 s after a new code, then ×1.5 up to every 10 s (refresh comes at 60 s)."""
    page = phone()
    page.clock.install()
    polls = counter(page)
    log_in(page, live_server.url, insured_phone)
    page.goto(f"{live_server.url}/code/me")
    advance(page, 12)            # polls at about 2, 5, 9.5 s
    early = len(polls)
    advance(page, 14)            # up to 26 s
    before = len(polls)
    advance(page, 24)            # 26 … 50 s: at most one poll per 10 s
    late = len(polls) - before
    assert early >= 2, polls
    assert late <= 3, polls
    assert late / 24 < early / 12, (early, late)


def test_the_page_polls_with_its_poll_token_and_takes_the_refreshed_one(live_server,
                                                                        insured_phone, phone):
    """The poll sends the page's token (so the server loads no session for it); after a
    refresh it sends the token that came with the new code."""
    page = phone()
    log_in(page, live_server.url, insured_phone)

    def is_poll(request) -> bool:
        return request.url.endswith("/status")

    with page.expect_request(is_poll, timeout=15_000) as first:
        page.goto(f"{live_server.url}/code/me")
    token = page.locator("[data-code-page]").get_attribute("data-poll-token")
    assert token and first.value.headers.get("x-poll-token") == token
    with page.expect_response(lambda r: r.url.endswith("/refresh")) as refreshed:
        page.get_by_role("button", name="立即刷新").click()
    new_token = refreshed.value.json()["poll_token"]
    with page.expect_request(is_poll, timeout=15_000) as later:
        pass
    assert later.value.headers.get("x-poll-token") == new_token
