"""POS API keys: format, hashed at rest, constant-time lookup by prefix, revocation, the CLI."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text

from webapp import clock
from webapp.api import keys as api_keys
from webapp.audit.services import SYSTEM
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.models import ApiKey, AuditLog


def test_key_format_and_only_the_hash_is_stored(app, factory):
    pharmacy = factory.pharmacy()
    row, raw = api_keys.create_key(pharmacy.code, "收银台1", SYSTEM)
    assert api_keys.KEY_RE.fullmatch(raw)
    _, prefix, secret = raw.split("_", 2)
    assert (row.prefix, len(secret)) == (prefix, 43)
    assert row.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    # The clear key and its secret appear nowhere in the database.
    for table in ("api_key", "audit_log"):
        for values in db.session.execute(text(f"SELECT * FROM {table}")).all():
            dumped = " ".join(str(v) for v in values)
            assert raw not in dumped and secret not in dumped
    created = db.session.scalar(select(AuditLog).where(AuditLog.action == "api_key.created"))
    assert prefix in created.detail and created.target_id == pharmacy.public_id


def test_keys_are_unique(app, factory):
    pharmacy = factory.pharmacy()
    raws = {api_keys.create_key(pharmacy.code, f"k{i}", SYSTEM)[1] for i in range(20)}
    prefixes = {raw.split("_")[1] for raw in raws}
    assert len(raws) == len(prefixes) == 20


def test_authenticate(app, factory):
    pharmacy = factory.pharmacy()
    row, raw = api_keys.create_key(pharmacy.code, "收银台1", SYSTEM)
    assert api_keys.authenticate(raw).id == row.id
    wrong_secret = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    for bad in (None, "", "nonsense", raw + "x", raw.upper(), wrong_secret,
                raw.replace(row.prefix, "00000000")):
        assert api_keys.authenticate(bad) is None
    api_keys.revoke_key(row.prefix, SYSTEM)
    assert api_keys.authenticate(raw) is None


def test_revoke_is_idempotent_and_audited_once(app, factory):
    row, _ = api_keys.create_key(factory.pharmacy().code, "收银台1", SYSTEM)
    first = api_keys.revoke_key(row.prefix, SYSTEM).revoked_at
    assert first is not None
    assert api_keys.revoke_key(row.prefix.upper(), SYSTEM).revoked_at == first
    assert len(db.session.scalars(
        select(AuditLog).where(AuditLog.action == "api_key.revoked")).all()) == 1


def test_create_refuses_unknown_pharmacy_and_bad_names(app, factory):
    with pytest.raises(DomainError):
        api_keys.create_key("NOPE", "x", SYSTEM)
    code = factory.pharmacy().code
    for name in ("", "   ", "x" * 61):
        with pytest.raises(DomainError):
            api_keys.create_key(code, name, SYSTEM)
    with pytest.raises(DomainError):
        api_keys.revoke_key("ffffffff", SYSTEM)


def test_cli_create_prints_the_key_once_then_revoke_and_list(app, runner, factory):
    pharmacy = factory.pharmacy(name="仁心大药房")
    result = runner.invoke(args=["api-key", "create", "--pharmacy", pharmacy.code,
                                 "--name", "收银台1"])
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip()
    assert api_keys.KEY_RE.fullmatch(raw)
    assert "只显示这一次" in result.stderr
    key = api_keys.authenticate(raw)
    assert key is not None and key.pharmacy_id == pharmacy.id and key.name == "收银台1"

    listed = runner.invoke(args=["api-key", "list", "--pharmacy", pharmacy.code])
    assert key.prefix in listed.output and "有效" in listed.output and raw not in listed.output
    # times in China time, like every page (stored UTC + 8 h)
    assert f"创建 {clock.china_time(key.created_at)}" in listed.output
    assert clock.china_time(key.created_at) != key.created_at.strftime("%Y-%m-%d %H:%M")

    result = runner.invoke(args=["api-key", "revoke", key.prefix])
    assert result.exit_code == 0 and "已吊销" in result.output
    assert api_keys.authenticate(raw) is None
    assert "已吊销" in runner.invoke(args=["api-key", "list"]).output


def test_cli_errors_exit_nonzero(app, runner):
    result = runner.invoke(args=["api-key", "create", "--pharmacy", "NOPE", "--name", "x"])
    assert result.exit_code != 0 and "未找到定点药店" in result.output
    result = runner.invoke(args=["api-key", "revoke", "ffffffff"])
    assert result.exit_code != 0 and "未找到该密钥" in result.output


def test_model_defaults(app, factory):
    row, _ = api_keys.create_key(factory.pharmacy().code, "收银台1", SYSTEM)
    fresh = db.session.get(ApiKey, row.id)
    assert fresh.created_at is not None and fresh.last_used_at is None and fresh.is_active


def test_last_used_is_stamped_at_most_once_a_minute(app, factory):
    """One POS sends many requests a minute; the key row is not rewritten on each."""
    from datetime import datetime, timedelta

    from webapp import clock

    row, _ = api_keys.create_key(factory.pharmacy().code, "收银台1", SYSTEM)
    start = datetime(2025, 5, 1, 2, 0, 0)
    actor = api_keys.actor_for(row)
    with clock.frozen_at(start):
        api_keys.record_use(row, actor, {})
    with clock.frozen_at(start + timedelta(seconds=59)):
        api_keys.record_use(row, actor, {})
    assert db.session.get(ApiKey, row.id).last_used_at == start
    with clock.frozen_at(start + timedelta(seconds=60)):
        api_keys.record_use(row, actor, {})
    assert db.session.get(ApiKey, row.id).last_used_at == start + timedelta(seconds=60)
    assert len(db.session.scalars(
        select(AuditLog).where(AuditLog.action == "api.key_used")).all()) == 3
