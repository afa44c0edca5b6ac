"""The payment-status poll (issue 13 item 2): from Redis keys written after a settlement
commits when Redis is configured, else one indexed lookup; both answer the same payments.

The Redis tests use the real server at 127.0.0.1:6379 (db 15) with a key prefix of their own,
deleted afterwards; they are skipped with the reason when no Redis answers there.
"""

from __future__ import annotations

import uuid

import pytest

from tests.test_codes import issue, login
from tests.test_query_counts import counting
from tests.test_settlement import pay
from webapp.audit.services import Actor
from webapp.codes import cancel as cancel_service
from webapp.codes import paid
from webapp.codes import settlement as settlement_service
from webapp.extensions import db

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as err:
        pytest.skip(f"needs Redis at {REDIS_URL}: {type(err).__name__}")
    return client


@pytest.fixture(params=["database", "redis"])
def mode(request, app):
    """The poll without Redis, and with a real Redis under a per-test key prefix."""
    app.extensions.pop("paid_status_redis", None)
    app.extensions.pop("paid_status_retry", None)
    if request.param == "database":
        app.config["PAID_STATUS_REDIS_URL"] = ""
        app.config["REDIS_URL"] = ""
        yield None
        return
    client = _redis_or_skip()
    prefix = f"test:{uuid.uuid4().hex}:"
    app.config.update(PAID_STATUS_REDIS_URL=REDIS_URL, PAID_STATUS_PREFIX=prefix)
    yield client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    app.config["PAID_STATUS_REDIS_URL"] = ""
    app.extensions.pop("paid_status_redis", None)


@pytest.fixture
def shop(factory):
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    return pharmacy, factory.staff(pharmacy_obj=pharmacy)


def poll(client, *codes: str, watch: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    """The poll's answer and the SQL statements it ran."""
    db.session.expire_all()
    with counting() as box:
        response = client.post("/code/me/status", data={"c": list(codes), "w": list(watch)})
    assert response.status_code == 200
    return response.get_json(), box[1]


def test_paid_then_cancelled_in_both_modes(mode, client, factory, shop):
    user = factory.user(name="李红", age=38, male=False, balance_fen=5000)
    login(client, user)
    old, shown = issue(user).code, issue(user).code
    answer, _ = poll(client, old, shown)
    assert answer["state"] in ("valid", "pending")

    done = pay(shown, shop, amount_fen=1200)
    answer, sql = poll(client, old, shown)
    assert (answer["state"], answer["settlement"], answer["amount_fen"]) == \
        ("paid", done.public_id, 1200)
    assert answer["pharmacy"] == "仁心大药房" and answer["message"] == "已支付 ¥12.00"
    assert not answer["cancelled"]
    touched = [s for s in sql if "insurance_code" in s or "settlement" in s]
    if mode is not None:  # Redis answers: the database sees only the session and the user
        assert touched == [], touched
        assert mode.get(paid.code_key(settlement_service.hash_code(shown)))
    else:
        assert len(touched) == 1, touched  # one indexed lookup with the payment joined

    pharmacy, staff = shop
    cancel_service.cancel(done, pharmacy, Actor(user=staff), "顾客退货")
    answer, sql = poll(client, issue(user).code, watch=(done.public_id,))
    assert answer["cancelled"] == [{"settlement": done.public_id, "pharmacy": "仁心大药房",
                                    "message": "¥12.00 的支付已撤销，已退回原账户"}]
    if mode is not None:
        assert [s for s in sql if "settlement" in s] == []


def test_someone_elses_payment_is_not_told(mode, client, factory, shop):
    """A code another user issued (and that was paid) says nothing to this user."""
    user = factory.user(name="李红", age=38, male=False)
    other = factory.user(name="王芳", age=40, balance_fen=5000)
    login(client, user)
    theirs = issue(other).code
    done = pay(theirs, shop)
    answer, _ = poll(client, issue(user).code, theirs, watch=(done.public_id,))
    assert answer["state"] != "paid"
    assert answer.get("cancelled", []) == []


def test_a_rolled_back_settlement_never_sets_the_key(app, factory, shop):
    client = _redis_or_skip()
    prefix = f"test:{uuid.uuid4().hex}:"
    app.extensions.pop("paid_status_redis", None)
    app.config.update(PAID_STATUS_REDIS_URL=REDIS_URL, PAID_STATUS_PREFIX=prefix)
    try:
        patient = factory.user(name="王芳", age=40, balance_fen=5000)
        code = issue(patient).code
        pharmacy, staff = shop
        actor = Actor(user=staff)
        token = settlement_service.verify(code, pharmacy, actor).token
        # The settlement's writes, then a rollback instead of the commit (a later step failed).
        settlement_service._settle(token, pharmacy, actor, 1000, "布洛芬", "02121", True, None)
        db.session.rollback()
        db.session.commit()  # a later, unrelated commit of the same session writes nothing
        assert list(client.scan_iter(f"{prefix}*")) == []
        # The same token settles for real afterwards: now the keys are there.
        settlement_service.settle(token, pharmacy, actor, 1000, "布洛芬")
        assert client.get(paid.code_key(settlement_service.hash_code(code)))
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        app.config["PAID_STATUS_REDIS_URL"] = ""
        app.extensions.pop("paid_status_redis", None)


def test_redis_unreachable_the_poll_reads_the_database(app, client, factory, shop):
    """Redis configured but down: the write fails (logged), the poll still tells the payment."""
    app.extensions.pop("paid_status_redis", None)
    app.extensions.pop("paid_status_retry", None)
    app.config.update(PAID_STATUS_REDIS_URL="redis://127.0.0.1:1/0")
    try:
        user = factory.user(name="李红", age=38, male=False, balance_fen=5000)
        login(client, user)
        shown = issue(user).code
        done = pay(shown, shop)
        answer, _ = poll(client, shown)
        assert (answer["state"], answer["settlement"]) == ("paid", done.public_id)
    finally:
        app.config["PAID_STATUS_REDIS_URL"] = ""
        app.extensions.pop("paid_status_redis", None)
        app.extensions.pop("paid_status_retry", None)


def test_key_lifetimes_follow_the_cancel_window(app, factory, shop, monkeypatch):
    """The settlement's key lives until its cancel window (policy ``cancel_days``) has closed
    for sure, the code's only as long as its row; a cancellation keeps the same window."""
    from webapp.codes import checks
    from webapp.policy import policy_for

    client = _redis_or_skip()
    prefix = f"test:{uuid.uuid4().hex}:"
    app.extensions.pop("paid_status_redis", None)
    app.config.update(PAID_STATUS_REDIS_URL=REDIS_URL, PAID_STATUS_PREFIX=prefix)
    try:
        pharmacy, staff = shop
        assert checks.cancel_days(pharmacy) == policy_for(pharmacy.region_code).pharmacy.cancel_days
        monkeypatch.setattr(checks, "cancel_days", lambda _pharmacy: 2)  # a 3-day window
        monkeypatch.setattr(settlement_service, "cancel_days", lambda _pharmacy: 2)
        monkeypatch.setattr(cancel_service, "cancel_days", lambda _pharmacy: 2)
        user = factory.user(name="李红", age=38, male=False, balance_fen=5000)
        shown = issue(user).code
        done = pay(shown, shop, amount_fen=500)
        code_ttl = client.ttl(paid.code_key(settlement_service.hash_code(shown)))
        settlement_ttl = client.ttl(paid.settlement_key(done.public_id))
        assert 0 < code_ttl <= paid.CODE_KEY_SECONDS
        assert 2 * paid.DAY_SECONDS < settlement_ttl <= 3 * paid.DAY_SECONDS
        cancel_service.cancel(done, pharmacy, Actor(user=staff), "顾客退货")
        assert 2 * paid.DAY_SECONDS < client.ttl(paid.settlement_key(done.public_id)) \
            <= 3 * paid.DAY_SECONDS
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        app.config["PAID_STATUS_REDIS_URL"] = ""
        app.extensions.pop("paid_status_redis", None)
