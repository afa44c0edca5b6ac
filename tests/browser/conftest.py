"""Browser tests: a live server of the app (CSRF on) and headless Chromium phones.

The whole directory is skipped, with the reason in the report, when /usr/bin/chromium is
missing. Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SKIP_REASON = f"browser tests skipped: {CHROMIUM} not found"
HERE = Path(__file__).parent
ARTIFACTS = HERE.parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def _in_this_directory(item) -> bool:
    return HERE in Path(str(item.fspath)).parents


def pytest_collection_modifyitems(config, items):
    """Mark every browser test skipped (with the reason) when Chromium is missing."""
    if CHROMIUM.exists():
        return
    marker = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if _in_this_directory(item):
            item.add_marker(marker)


def pytest_terminal_summary(terminalreporter):
    """Say so plainly at the end of the run when the browser tests could not run."""
    if not CHROMIUM.exists():
        terminalreporter.write_line(SKIP_REASON)


@pytest.fixture
def live_server(tmp_path):
    """The app on a temporary SQLite file with CSRF enabled, served on a random local port.

    Yields an object with ``url`` (the base URL) and ``app``; seed data with
    ``with live_server.app.app_context(): factories.person(...)`` (same process).
    """
    from werkzeug.serving import make_server

    from tests.conftest import make_app
    from webapp.extensions import db, limiter

    app = make_app(f"sqlite:///{tmp_path / 'live.sqlite'}", tmp_path, WTF_CSRF_ENABLED=True)
    limiter.reset()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()

    class Live:
        url = f"http://127.0.0.1:{server.server_port}"

    Live.app = app
    try:
        yield Live
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def insured_phone(live_server) -> str:
    """The login phone of a fresh insured user (李红, 38) of the live server."""
    from tests import factories
    from webapp.extensions import db

    with live_server.app.app_context():
        phone = factories.user(name="李红", age=38, male=False).phone
        db.session.remove()
    return phone


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (the system one; never downloaded) with a fake camera."""
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def phone(browser):
    """Factory of phone-sized pages (390×844, touch, zh-CN, camera allowed)."""
    contexts = []

    def open_phone(**options):
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            permissions=["camera"],
            **options,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request):
    """Save a full-page screenshot under test-artifacts/<test name>-<label>.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def shoot(page, label: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
