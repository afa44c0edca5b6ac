"""Page weight of the 医保码 page (issue 13 item 3), measured as the phone's network sees it:
the bytes Chromium received (CDP ``Network.loadingFinished.encodedDataLength``: compressed
bodies plus headers) — first load with an empty cache ≤ 60 KB, each refresh ≤ 5 KB — and the
static files fingerprinted and cached for a year."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import log_in

FIRST_LOAD_MAX = 60 * 1024
REFRESH_MAX = 5 * 1024


class Network:
    """Bytes received per request URL, from the page's DevTools protocol events."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.urls: dict[str, str] = {}
        self.received: dict[str, int] = {}
        self.headers: dict[str, dict] = {}
        self.cdp.on("Network.requestWillBeSent", self._request)
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.send("Network.enable")

    def _request(self, event):
        self.urls[event["requestId"]] = event["request"]["url"]

    def _response(self, event):
        self.headers[event["requestId"]] = {k.lower(): v for k, v in
                                            event["response"]["headers"].items()}

    def _finished(self, event):
        self.received[event["requestId"]] = int(event["encodedDataLength"])

    def cold(self) -> None:
        """An empty cache from now on, as on a first visit."""
        self.cdp.send("Network.clearBrowserCache")
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def reset(self) -> None:
        self.urls.clear()
        self.received.clear()
        self.headers.clear()

    def listing(self) -> list[tuple[str, int]]:
        return [(self.urls.get(i, i), n) for i, n in self.received.items()]

    def total(self) -> int:
        return sum(self.received.values())



def test_code_page_first_load_and_refresh_weight(live_server, insured_phone, phone):
    page = phone()
    log_in(page, live_server.url, insured_phone)
    network = Network(page)
    network.cold()
    network.reset()
    page.goto(f"{live_server.url}/code/me", wait_until="networkidle")
    expect(page.locator("[data-qr-box]")).to_be_visible()
    first = network.total()
    files = network.listing()
    assert any("/static/css/" in u for u, _ in files) and any("/code/me" in u for u, _ in files)
    assert first <= FIRST_LOAD_MAX, (first, files)
    print(f"code page first load: {first} bytes over {len(files)} requests: {files}")

    # Every static file is compressed (when worth it), fingerprinted and immutable.
    for request_id, url in network.urls.items():
        if "/static/" not in url:
            continue
        headers = network.headers.get(request_id, {})
        assert "?v=" in url, url
        assert "immutable" in headers.get("cache-control", ""), (url, headers)
        if not url.split("?")[0].endswith(".svg"):
            assert headers.get("content-encoding") in ("br", "gzip", "zstd"), (url, headers)

    network.reset()
    shown = page.locator("[data-display]").inner_text()
    page.get_by_role("button", name="立即刷新").click()
    expect(page.locator("[data-display]")).not_to_have_text(shown)
    page.wait_for_load_state("networkidle")
    refreshes = [(u, n) for u, n in network.listing() if u.endswith("/refresh")]
    assert len(refreshes) == 1, network.listing()
    assert refreshes[0][1] <= REFRESH_MAX, refreshes
    print(f"refresh: {refreshes[0][1]} bytes")
