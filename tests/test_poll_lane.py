"""The token poll's WSGI lane (webapp/codes/lane.py): the ordinary token poll is answered without
Flask's request cycle, with the same answer and headers as the view; everything else reaches
the Flask app untouched and is answered (or refused) as it would be without the lane."""

from __future__ import annotations

import logging

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tests.test_hot_paths import _engines, _statements_during
from tests.test_paid_status import mode  # noqa: F401  (fixture: without and with Redis)
from tests.test_poll_token import HEADER, page_token
from tests.test_settlement import pay
from webapp.codes import cancel as cancelling
from webapp.codes import lane as lane_module
from webapp.codes import status as code_status
from webapp.codes.lane import lane_of
from webapp.extensions import db
from webapp.readonly import AUTOCOMMIT, GUARDED

# Headers whose values differ from one answer to the next; and Vary, which the view's answer
# carries as a side effect (flask-compress adds Accept-Encoding, the session interface Cookie)
# and which means nothing on a ``no-store`` answer that is never compressed (checked below).
PER_ANSWER = {"date", "content-length", "x-request-id", "vary"}


@pytest.fixture
def mother(app, client, factory):
    from tests.test_codes import login

    user = factory.user(name="李红", age=38, male=False, balance_fen=10_000)
    login(client, user)
    return user


@pytest.fixture
def flask_calls(app, monkeypatch):
    """How many requests reached Flask's dispatch (the lane's answers never do)."""
    seen: list[str] = []
    original = app.full_dispatch_request

    def counted():
        from flask import request

        seen.append(request.path)
        return original()

    monkeypatch.setattr(app, "full_dispatch_request", counted)
    return seen


def _flask_path(app) -> Client:
    """A client of the Flask app behind the lane (every request takes the view)."""
    return Client(lane_of(app).inner, Response)


def _headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in PER_ANSWER}


def test_a_token_poll_is_answered_in_the_lane_exactly_as_the_view_answers(
        app, client, mother, flask_calls, factory):
    code, token = page_token(client)
    flask_calls.clear()
    anonymous = app.test_client()
    view = _flask_path(app)

    def both(data):
        headers = {HEADER: token, "Accept-Encoding": "gzip, deflate, br"}
        lane = anonymous.post("/code/me/status", data=data, headers=headers)
        assert flask_calls == [], "the lane's answer went through Flask"
        ordinary = view.post("/code/me/status", data=data, headers=headers)
        assert "Content-Encoding" not in ordinary.headers  # too small to compress
        assert flask_calls == ["/code/me/status"]
        flask_calls.clear()
        assert (lane.status_code, lane.get_json()) == (ordinary.status_code,
                                                       ordinary.get_json()), data
        assert _headers(lane) == _headers(ordinary), data
        return lane.get_json()

    assert both({"c": code})["state"] == "valid"
    assert both({"c": ["", code]})["state"] == "valid"
    assert both({"c": ""})["state"] == "unknown"
    assert both({"c": "NOTACODE"})["state"] == "unknown"
    shop = factory.pharmacy(name="仁心大药房", region="360000")
    paid = pay(code, (shop, factory.staff(pharmacy_obj=shop)))
    db.session.commit()
    answer = both({"c": code})
    assert answer["state"] == "paid" and answer["settlement"] == paid.public_id
    staff = factory.staff(pharmacy_obj=shop)
    from webapp.audit.services import Actor

    cancelling.cancel(paid.public_id, shop, Actor(user=staff), reason="顾客退货")
    db.session.commit()
    assert both({"c": code, "w": paid.public_id})["cancelled"][0]["settlement"] \
        == paid.public_id
    # The headers every Flask answer carries are there.
    answer = anonymous.post("/code/me/status", data={"c": code}, headers={HEADER: token})
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Type"] == "application/json"
    assert "Set-Cookie" not in answer.headers


def test_everything_else_reaches_flask_with_its_body(app, client, mother, flask_calls):
    code, token = page_token(client)
    anonymous = app.test_client()
    form = "application/x-www-form-urlencoded"
    cases = {
        # no token: the session path (this client has the cookie) answers
        "no token": lambda: client.post("/code/me/status", data={"c": code}),
        "bad token": lambda: anonymous.post("/code/me/status", data={"c": code},
                                            headers={HEADER: token[:-2] + "AA"}),
        "NUL": lambda: anonymous.post("/code/me/status", data={"c": "A\x00B"},
                                      headers={HEADER: token}),
        "percent NUL": lambda: anonymous.post("/code/me/status", data="c=A%00B",
                                              content_type=form, headers={HEADER: token}),
        "not UTF-8": lambda: anonymous.post("/code/me/status", data=b"c=\xff\xfe",
                                            content_type=form, headers={HEADER: token}),
        "escaped not UTF-8": lambda: anonymous.post("/code/me/status", data="c=%ff",
                                                    content_type=form,
                                                    headers={HEADER: token}),
        "query string": lambda: anonymous.post("/code/me/status?c=1", data={"c": code},
                                               headers={HEADER: token}),
        "JSON": lambda: anonymous.post("/code/me/status", json={"c": code},
                                       headers={HEADER: token}),
        "GET": lambda: anonymous.get("/code/me/status", headers={HEADER: token}),
        "other path": lambda: anonymous.post("/code/me/status/", data={"c": code},
                                             headers={HEADER: token}),
        "big body": lambda: anonymous.post(
            "/code/me/status", data={"c": [code] * 400}, headers={HEADER: token}),
        "non-ASCII subject": lambda: anonymous.post("/code/我/status", data={"c": code},
                                                    headers={HEADER: token}),
    }
    answers = {}
    for name, send in cases.items():
        flask_calls.clear()
        answers[name] = send()
        assert flask_calls, f"{name}: answered by the lane"
    assert answers["no token"].status_code == 200
    assert answers["no token"].get_json()["state"] == "valid"
    assert answers["bad token"].status_code in (302, 303, 401)
    for name in ("NUL", "percent NUL"):
        assert answers[name].status_code == 400, name  # the input guard's refusal
    # The big body reached the view whole: it answers for the (repeated) code.
    assert answers["big body"].status_code == 200
    assert answers["big body"].get_json()["state"] == "valid"
    assert answers["GET"].status_code == 405


def test_an_error_in_the_lane_is_left_to_the_flask_app(app, client, mother, flask_calls,
                                                       monkeypatch):
    code, token = page_token(client)
    real = code_status.status_of
    failures = []

    def once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(code_status, "status_of", once)
    flask_calls.clear()
    answer = app.test_client().post("/code/me/status", data={"c": code},
                                    headers={HEADER: token})
    assert failures and flask_calls == ["/code/me/status"]
    assert answer.status_code == 200 and answer.get_json()["state"] == "valid"


def test_the_lane_logs_and_echoes_the_request_id_and_runs_read_only(app, client, mother,
                                                                    caplog, monkeypatch):
    from flask import g

    code, token = page_token(client)
    anonymous = app.test_client()
    with caplog.at_level(logging.INFO, logger="webapp.access"):
        kept = anonymous.post("/code/me/status", data={"c": code},
                              headers={HEADER: token, "X-Request-Id": "trace-42"})
        replaced = anonymous.post("/code/me/status", data={"c": code},
                                  headers={HEADER: token, "X-Request-Id": "<script>"})
    assert kept.headers["X-Request-Id"] == "trace-42"
    assert replaced.headers["X-Request-Id"] not in ("<script>", "")
    lines = [r.getMessage() for r in caplog.records if r.name == "webapp.access"]
    assert '"request_id": "trace-42"' in lines[-2]
    assert '"route": "/code/<subject>/status"' in lines[-1] and '"status": 200' in lines[-1]
    assert '"role": "insured"' in lines[-1]

    modes = []
    real = code_status._from_database

    def recording(*args):
        modes.append(g.get("read_only"))
        return real(*args)

    monkeypatch.setattr(code_status, "_from_database", recording)
    assert anonymous.post("/code/me/status", data={"c": code},
                          headers={HEADER: token}).status_code == 200
    expected = AUTOCOMMIT if db.engine.dialect.name == "postgresql" else GUARDED
    assert modes == [expected]


@pytest.mark.postgres
def test_on_postgresql_a_lane_poll_is_one_autocommit_statement(pg_app):
    from tests import factories
    from tests.test_codes import login

    client = pg_app.test_client()
    user = factories.user(name="李红", age=38, male=False)
    login(client, user)
    code, token = page_token(client)
    db.session.remove()
    anonymous = pg_app.test_client()
    poll, seen = _statements_during(pg_app, lambda: anonymous.post(
        "/code/me/status", data={"c": code}, headers={HEADER: token}))
    assert poll.status_code == 200 and poll.get_json()["state"] == "valid"
    assert len(seen) == 1 and seen[0][2], seen  # the shown codes, on autocommit


def test_the_lane_can_be_switched_off(tmp_path, app):
    from tests.conftest import make_app

    off = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, POLL_LANE=False)
    assert lane_of(off) is None and lane_of(app) is not None
    assert lane_module.PollLane(app, lambda e, s: []).route.fullmatch("/code/me/status")


def test_with_redis_a_lane_poll_takes_no_database_connection(app, client, mother, mode,  # noqa: F811
                                                            factory):
    """With Redis the answer is one MGET: no pool checkout, no statement (the read-only
    connection is taken only before a database lookup); without it, one statement."""
    from sqlalchemy import event

    code, token = page_token(client)
    shop = factory.pharmacy(name="仁心大药房", region="360000")
    paid = pay(code, (shop, factory.staff(pharmacy_obj=shop))).public_id
    db.session.commit()
    db.session.remove()
    checkouts: list[int] = []
    statements: list[str] = []

    def checkout(*_):
        checkouts.append(1)

    def statement(_conn, _cursor, sql, *_):
        statements.append(sql)

    engines = _engines(app)
    for engine in engines:
        event.listen(engine, "checkout", checkout)
        event.listen(engine, "before_cursor_execute", statement)
    try:
        answer = app.test_client().post("/code/me/status", data={"c": code},
                                        headers={HEADER: token})
    finally:
        for engine in engines:
            event.remove(engine, "checkout", checkout)
            event.remove(engine, "before_cursor_execute", statement)
    assert answer.get_json()["settlement"] == paid
    if mode is None:
        assert len(statements) == 1 and len(checkouts) == 1, statements
    else:
        assert statements == [] and checkouts == [], statements
