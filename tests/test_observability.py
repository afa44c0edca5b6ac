"""Observability (issue 12, item 14): /healthz, /readyz, request ids in answers and audit rows,
one JSON access-log line per request that never names a person, Prometheus metrics."""

from __future__ import annotations

import json
import logging
import re

import pytest
from flask_migrate import stamp
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from tests import factories
from tests.conftest import make_app
from tests.route_walk import build_world, crawl
from tests.test_codes import issue
from webapp.audit.services import Actor
from webapp.codes import settlement
from webapp.extensions import db, limiter
from webapp.models import AuditLog, InsuredPerson
from webapp.observability import health


def sample(name: str) -> float:
    """The current value of a metric sample (0 before its first use)."""
    return REGISTRY.get_sample_value(name) or 0.0


class Lines(logging.Handler):
    """Collects the access log's lines."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines():
    """The lines the access log writes during the test."""
    handler = Lines()
    logger = logging.getLogger("webapp.access")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


@pytest.fixture
def stamped(app):
    """The database stamped at the migration scripts' head (as `flask db upgrade` leaves it)."""
    stamp()
    yield app
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


# ---- health checks ------------------------------------------------------------------------

def test_healthz_answers_without_the_database(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(stamped, client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ready",
                                   "checks": {"database": "ok", "migrations": "ok"}}


def test_readyz_refuses_an_unmigrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "not migrated"


def test_readyz_refuses_a_database_behind_the_scripts(stamped, client):
    db.session.execute(text("UPDATE alembic_version SET version_num = 'old0000000'"))
    db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "behind"


def test_readyz_without_migration_scripts_is_not_ready(app, client, tmp_path):
    app.extensions["migrate"].directory = str(tmp_path / "no-migrations")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "no scripts"


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
    "sqlite:////nonexistent-directory/for/sure/db.sqlite",
])
def test_readyz_fails_when_the_database_is_unreachable(tmp_path, url):
    from webapp import create_app

    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url,
                      "UPLOAD_FOLDER": str(tmp_path)})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "unreachable"
    assert "127.0.0.1" not in response.get_data(as_text=True)  # nothing about the setup


def test_readyz_checks_redis_when_configured(stamped, client):
    stamped.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    refused = client.get("/readyz")
    assert refused.status_code == 503
    assert refused.get_json()["checks"]["redis"] == "unreachable"
    stamped.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    if health.check_redis(stamped.config["REDIS_URL"]) != "ok":
        pytest.skip("no Redis at 127.0.0.1:6379 in this environment")
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["redis"] == "ok"


# ---- request ids --------------------------------------------------------------------------

def test_every_answer_has_a_request_id(client):
    first, second = client.get("/auth/login"), client.get("/nope")
    for response in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize("inbound, kept", [
    ("4bf92f3577b34da6a3ce929d0e0e4736", True), ("req-1.a:b_c", True),
    ("has space", False), ("x" * 65, False), ("<script>", False), ("-leading", False),
])
def test_a_sane_inbound_request_id_is_kept(client, inbound, kept):
    echoed = client.get("/auth/login", headers={"X-Request-Id": inbound}).headers["X-Request-Id"]
    assert (echoed == inbound) is kept
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", echoed)


def test_audit_rows_carry_the_request_id(client):
    user = factories.user()
    client.post("/auth/login", data={"phone": user.phone, "password": "wrong"},
                headers={"X-Request-Id": "bad-login-1"})
    client.post("/auth/login", data={"phone": user.phone, "password": factories.PASSWORD},
                headers={"X-Request-Id": "good-login-1"})
    rows = dict(db.session.execute(select(AuditLog.action, AuditLog.request_id)).all())
    assert rows["account.login_failed"] == "bad-login-1"
    assert rows["account.login"] == "good-login-1"


def test_audit_rows_outside_a_request_have_none(app):
    factories.user()
    from webapp.audit import services as audit

    audit.record("test.cli", Actor(label="cli"))
    db.session.commit()
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "test.cli"))
    assert row.request_id == ""


# ---- access log ---------------------------------------------------------------------------

def test_one_json_line_per_request(client, access_lines):
    client.get("/auth/login?next=/records/")
    client.get("/static/favicon.svg")
    client.post("/auth/login", data={"phone": "13900000000", "password": "x"})
    assert len(access_lines) == 3
    entries = [json.loads(line) for line in access_lines]
    assert set(entries[0]) == {"time", "request_id", "method", "route", "status",
                               "duration_ms", "role"}
    assert entries[0]["route"] == "/auth/login"  # no query string
    assert entries[1]["route"] == "/static/<path:filename>"
    assert [e["method"] for e in entries] == ["GET", "GET", "POST"]
    assert all(e["role"] == "anonymous" and e["duration_ms"] >= 0 for e in entries)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entries[0]["time"])


def test_a_whole_journey_logs_no_name_id_number_or_phone(app, access_lines):
    """Every role walks every page it can reach (and the reviewer searches the audit trail by
    ID number); no log line carries a name, an ID number, a phone or a URL's values."""
    world = build_world(app)
    people = db.session.scalars(select(InsuredPerson)).all()
    for client in world.clients.values():
        crawl(app, client, "/", limit=40)
    reviewer = world.clients["reviewer"]
    for person in people:
        reviewer.get(f"/review/audit?id_number={person.id_number}")
    roles = {json.loads(line)["role"] for line in access_lines}
    assert {"anonymous", "insured", "pharmacy", "reviewer"} <= roles
    secrets = [p.id_number for p in people] + [p.name for p in people] + \
        [p.phone for p in people] + [u.phone for u in world.users.values()] + \
        [u.public_id for u in world.users.values()]
    assert len(access_lines) > 50
    for line in access_lines:
        assert not any(secret and secret in line for secret in secrets), line
        assert "?" not in json.loads(line)["route"]


# ---- metrics ------------------------------------------------------------------------------

def test_metrics_count_a_settlement(app, client):
    pharmacy = factories.pharmacy()
    staff = factories.staff(pharmacy_obj=pharmacy)
    holder = factories.user(balance_fen=10_000)
    before = sample("webapp_settlements_total")
    checked = settlement.verify(issue(holder).code, pharmacy, Actor(user=staff))
    settlement.settle(checked.token, pharmacy, Actor(user=staff), 1200, "布洛芬缓释胶囊 1盒")
    assert sample("webapp_settlements_total") == before + 1
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.content_type.startswith("text/plain")
    value = re.search(r"^webapp_settlements_total (\S+)$", scraped.get_data(as_text=True), re.M)
    assert value and float(value.group(1)) == before + 1


def test_metrics_count_a_cancel(app):
    from webapp.codes import cancel as cancelling

    pharmacy = factories.pharmacy()
    staff = factories.staff(pharmacy_obj=pharmacy)
    holder = factories.user(balance_fen=10_000)
    checked = settlement.verify(issue(holder).code, pharmacy, Actor(user=staff))
    row = settlement.settle(checked.token, pharmacy, Actor(user=staff), 800, "维生素C 1瓶")
    before = sample("webapp_settlement_cancels_total")
    cancelling.cancel(row, pharmacy, Actor(user=staff), "顾客退货")
    assert sample("webapp_settlement_cancels_total") == before + 1


def test_a_server_error_is_logged_with_its_request_id(tmp_path, access_lines):
    app = make_app(f"sqlite:///{tmp_path / 'e.sqlite'}", tmp_path, PROPAGATE_EXCEPTIONS=False)

    @app.route("/_boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/_boom", headers={"X-Request-Id": "boom-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "boom-1"
    assert "系统繁忙" in response.get_data(as_text=True)
    entry = json.loads(access_lines[-1])
    assert (entry["request_id"], entry["route"], entry["status"]) == ("boom-1", "/_boom", 500)


def test_a_rolled_back_action_counts_nothing(app):
    from webapp.audit import services as audit

    before = sample("webapp_settlements_total")
    audit.record("settlement.create", Actor(label="test"))
    db.session.rollback()
    db.session.commit()
    assert sample("webapp_settlements_total") == before


def test_metrics_count_failed_logins_and_latency_per_route(client):
    user = factories.user()
    failed = sample("webapp_login_failures_total")
    client.post("/auth/login", data={"phone": user.phone, "password": "wrong"})
    assert sample("webapp_login_failures_total") == failed + 1
    labels = {"method": "POST", "route": "/auth/login"}
    assert REGISTRY.get_sample_value("webapp_request_duration_seconds_count", labels) >= 1
    assert REGISTRY.get_sample_value("webapp_requests_total",
                                     {**labels, "status": "303"}) >= 1  # POST → 303 → GET
    body = client.get("/metrics").get_data(as_text=True)
    assert 'webapp_request_duration_seconds_bucket{le="0.1",method="POST",route="/auth/login"}' \
        in body


def test_metrics_count_rate_limit_refusals(app):
    @app.route("/_limited")
    @limiter.limit("1 per minute")
    def limited():
        return "ok"

    client = app.test_client()
    before = sample("webapp_rate_limit_refusals_total")
    assert client.get("/_limited").status_code == 200
    assert client.get("/_limited").status_code == 429
    assert sample("webapp_rate_limit_refusals_total") == before + 1


def test_metrics_behind_a_token_when_configured(app, client):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 404
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200


def test_health_endpoints_need_no_login_and_are_not_cached(client):
    for url in ("/healthz", "/readyz", "/metrics"):
        response = client.get(url)
        assert response.status_code in (200, 503)
        assert "no-store" in response.headers["Cache-Control"]

