"""Helpers every test module shares: logging a client or a browser in, running work in
concurrent threads, watching a browser page for errors, and the factories' entry points.

    from tests import helpers
    from tests.helpers import factories, binding, login, run_concurrently
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests import factories  # noqa: F401 - the factories' entry point (person, user, staff …)
from webapp import clock
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.models import InsuredPerson, KinshipBinding

PASSWORD = factories.PASSWORD


# --- the test client -------------------------------------------------------------------------

def login(client, user) -> None:
    """Log the test client in as ``user`` (Flask-Login session; no password round trip)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.public_id
        session["_fresh"] = True


def logout(client) -> None:
    """Forget the logged-in user of the test client."""
    with client.session_transaction() as session:
        session.pop("_user_id", None)


# --- rows ----------------------------------------------------------------------------------

def binding(holder: InsuredPerson, member: InsuredPerson, relation: str = "child",
            status: str = "active", created_at: datetime | None = None) -> KinshipBinding:
    """A binding row as the wizard would leave it (committed); active ones are bound now."""
    row = KinshipBinding(
        holder_person_id=holder.id, member_person_id=member.id, relation=relation,
        status=status, region_code=holder.region_code,
        bound_at=clock.now() if status == "active" else None,
    )
    if created_at is not None:
        row.created_at = created_at
    db.session.add(row)
    db.session.commit()
    return row


# --- concurrency ---------------------------------------------------------------------------

def run_concurrently(app, n: int, work: Callable[[int], Any],
                     refused: Callable[[DomainError], Any] = lambda err: err.code,
                     timeout: float = 120) -> list:
    """Run ``work(i)`` for i in range(n) in n threads released together, each with its own
    app context and session. Each result is what work returned, ``refused(err)`` for a
    DomainError (default: its code), or ``repr`` of any other exception."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=timeout)
                results[i] = work(i)
            except DomainError as err:
                db.session.rollback()
                results[i] = refused(err)
            except Exception as err:  # noqa: BLE001 - reported by the caller's assertions
                db.session.rollback()
                results[i] = repr(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results


# --- the browser -----------------------------------------------------------------------------

def log_in(page, base: str, phone: str, password: str = PASSWORD) -> None:
    """Log in through the real login form and wait until it has left the login page."""
    from playwright.sync_api import expect  # only the browser tests need playwright

    page.goto(base + "/auth/login")
    page.fill("#phone", phone)
    page.fill("#password", password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    expect(page).not_to_have_url(re.compile(r"/auth/login"))


def upload(page, selector: str, files) -> None:
    """Choose files in the material step's uploader and wait for the page it posts them to.

    The uploader submits the form as soon as a file is chosen (POST → 303 → the step's GET);
    waiting for that navigation, not for a thumbnail within a locator's 5 s, keeps a slow
    machine from failing the step.
    """
    with page.expect_navigation(wait_until="load", timeout=60_000):
        page.set_input_files(selector, files=files)


def watch(page) -> list[str]:
    """Script errors, CSP violations and failed requests of the page (filled as it runs)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    return problems


def refused_page(client, response):
    """A POST the app refused answers 303 to its page's GET (webapp/prg.py): that GET, which
    shows the errors and what was typed. Any other answer is returned as it is."""
    if response.status_code != 303:
        return response
    return client.get(response.headers["Location"])
