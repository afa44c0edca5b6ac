"""The 医保码 page's poll token (webapp/codes/polling.py): the poll is answered from it without
loading the session; it is bound to its user, patient and page, signed and short-lived; a poll
without a valid one takes the session path with its CSRF check."""

from __future__ import annotations

import re

import pytest

from tests.test_codes import bind, issue, login
from tests.test_query_counts import counting
from webapp.codes import polling
from webapp.codes import services as codes
from webapp.codes.settlement import token_seconds
from webapp.extensions import db

HEADER = polling.HEADER


def page_token(client, subject: str = "me") -> tuple[str, str]:
    """(code, poll token) the code page was rendered with."""
    html = client.get(f"/code/{subject}").get_data(as_text=True)
    code = re.search(r'data-code="([^"]+)"', html).group(1)
    token = re.search(r'data-poll-token="([^"]+)"', html).group(1)
    return code, token


@pytest.fixture
def mother(app, client, factory):
    user = factory.user(name="李红", age=38, male=False)
    login(client, user)
    return user


def test_page_and_refresh_hand_out_a_token_that_polls_without_any_session(app, client,
                                                                          mother):
    code, token = page_token(client)
    refreshed = client.post("/code/me/refresh").get_json()
    assert refreshed["poll_token"] and token
    stranger = app.test_client()  # no cookie at all: only the token
    db.session.expire_all()
    with counting() as box:
        answer = stranger.post("/code/me/status", data={"c": [code, refreshed["code"]]},
                               headers={HEADER: refreshed["poll_token"]})
    assert answer.status_code == 200, answer.get_data(True)
    assert answer.get_json()["state"] == "valid"
    assert "Cache-Control" in answer.headers and "no-store" in answer.headers["Cache-Control"]
    # One statement: the shown codes. No session row, no user, no person.
    assert box[0] == 1, box[1]
    assert not any("web_session" in s or "user_account" in s for s in box[1])


def test_a_token_with_a_cookie_does_not_load_the_session(app, client, mother):
    code, token = page_token(client)
    db.session.expire_all()
    with counting() as box:
        answer = client.post("/code/me/status", data={"c": code}, headers={HEADER: token})
    assert answer.status_code == 200 and answer.get_json()["state"] == "valid"
    assert not any("web_session" in s for s in box[1]), box[1]


def _refused(response) -> bool:
    """Not answered by the token path: a redirect to the login page or a refusal."""
    return response.status_code in (302, 303, 401, 403) or "state" not in (
        response.get_json(silent=True) or {})


def test_altered_expired_or_foreign_page_tokens_are_not_accepted(app, client, mother,
                                                                 factory, monkeypatch):
    code, token = page_token(client)
    child = factory.person(name="张小明", age=8)
    binding = bind(mother.person, child)
    anonymous = app.test_client()
    payload, _, mac = token.rpartition(".")
    user_id, person_id, keep, expires = payload.split(".")
    forged = [
        f"{user_id}.{person_id}.{keep}.{int(expires) + 3600}.{mac}",       # longer life
        f"{int(user_id) + 1}.{person_id}.{keep}.{expires}.{mac}",          # another user
        f"{payload}.{mac[:-2]}AA",                                          # another MAC
        "x" * 500, "", "1.2.3.4.5.6",
    ]
    for bad in forged:
        assert _refused(anonymous.post("/code/me/status", data={"c": code},
                                       headers={HEADER: bad})), bad
    # The token of the "me" page is no good on the relative's page.
    assert _refused(anonymous.post(f"/code/{binding.public_id}/status", data={"c": code},
                                   headers={HEADER: token}))
    # It ends when the code just issued can no longer end in a payment.
    lifetime = codes.code_rules(mother.person).valid_seconds + token_seconds()
    real = polling.time.time
    monkeypatch.setattr(polling.time, "time", lambda: real() + lifetime - 5)
    assert anonymous.post("/code/me/status", data={"c": code},
                          headers={HEADER: token}).status_code == 200
    monkeypatch.setattr(polling.time, "time", lambda: real() + lifetime + 5)
    assert _refused(anonymous.post("/code/me/status", data={"c": code},
                                   headers={HEADER: token}))


def test_a_token_sees_only_its_own_users_codes_for_its_patient(app, client, mother, factory):
    _, token = page_token(client)
    other = factory.user(name="王芳", age=40, male=False)
    theirs = issue(other).code
    answer = app.test_client().post("/code/me/status", data={"c": theirs},
                                    headers={HEADER: token})
    assert answer.status_code == 200
    assert answer.get_json()["state"] == "unknown"


def test_logging_out_leaves_the_token_only_for_its_short_life(app, client, mother):
    code, token = page_token(client)
    client.post("/auth/logout")
    # The session path is closed at once …
    assert _refused(client.post("/code/me/status", data={"c": code}))
    # … the token answers the poll of the page still open, for its own codes only, until
    # it expires (tests above): the refresh it would need next is refused.
    assert client.post("/code/me/status", data={"c": code},
                       headers={HEADER: token}).status_code == 200
    assert client.post("/code/me/refresh").status_code != 200


def test_without_a_token_the_poll_needs_the_csrf_header(csrf_app):
    from tests import factories

    user = factories.user()
    client = csrf_app.test_client()
    login(client, user)
    html = client.get("/code/me").get_data(as_text=True)
    code = re.search(r'data-code="([^"]+)"', html).group(1)
    csrf = re.search(r'data-csrf="([^"]+)"', html).group(1)
    token = re.search(r'data-poll-token="([^"]+)"', html).group(1)
    assert client.post("/code/me/status", data={"c": code}).status_code == 400
    assert client.post("/code/me/status", data={"c": code},
                       headers={"X-CSRFToken": csrf}).status_code == 200
    assert client.post("/code/me/status", data={"c": code},
                       headers={HEADER: token}).status_code == 200


def test_a_token_poll_is_logged_as_the_insured_role(app, client, mother, caplog):
    import logging

    code, token = page_token(client)
    anonymous = app.test_client()
    with caplog.at_level(logging.INFO, logger="webapp.access"):
        assert anonymous.post("/code/me/status", data={"c": code},
                              headers={HEADER: token}).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "webapp.access"]
    assert lines and '"role": "insured"' in lines[-1], lines
