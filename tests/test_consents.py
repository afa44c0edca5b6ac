"""Consents at registration (用户协议 + 隐私政策, and separately the 人脸信息处理规则, PIPL art.
28/29), each stored with its version; a new version asks again; withdrawing face consent."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from sqlalchemy import func, select

from tests.helpers import refused_page
from tests.test_accounts import form_for, register_through
from webapp.accounts import consents, documents
from webapp.accounts import services as accounts
from webapp.accounts.documents import Document, current_versions
from webapp.accounts.models import Consent
from webapp.accounts.states import FACE, PRIVACY, TERMS
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.models import AuditLog, FaceCheck, User

PASSWORD = "Passw0rd!"


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def rows_of(user: User) -> list[Consent]:
    return list(db.session.scalars(select(Consent).filter_by(user_id=user.id)
                                   .order_by(Consent.id)))


# --- registration ---------------------------------------------------------------------------

def test_registration_without_the_face_data_consent_is_refused(client, factory):
    person = factory.person(name="赵小红", male=False)
    data = form_for(person)
    del data["agree_face"]
    response = refused_page(client, client.post("/auth/register", data=data))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert consents.MSG_AGREE_FACE in html
    # Nothing was written: no face check begun, no account, no consent.
    assert (count(User), count(FaceCheck), count(Consent)) == (0, 0, 0)
    # Nothing typed is lost: phone, name, ID number and the other tick stay; the passwords are
    # asked for again (the refusal goes POST → 303 → GET, and passwords are never kept).
    for value in ("13812345678", person.name, person.id_number):
        assert f'value="{value}"' in html
    assert 'value="abc12345"' not in html
    assert re.search(r'<input checked id="agree" name="agree"', html)
    face_box = re.search(r'<input[^>]*id="agree_face"[^>]*>', html).group(0)
    assert "checked" not in face_box and 'aria-invalid="true"' in face_box


def test_registration_without_the_agreement_is_refused(client, factory):
    person = factory.person()
    data = form_for(person)
    del data["agree"]
    html = refused_page(client, client.post("/auth/register", data=data)).get_data(as_text=True)
    assert consents.MSG_AGREE in html
    assert (count(User), count(FaceCheck)) == (0, 0)
    assert f'value="{person.id_number}"' in html


def test_the_service_refuses_without_each_consent(app, factory):
    person = factory.person()
    args = ("13812345678", "abc12345", person.name, person.id_number)
    with pytest.raises(DomainError) as err:
        accounts.prepare_registration(*args, agree=True, agree_face=False)
    assert (err.value.field, err.value.message) == ("agree_face", consents.MSG_AGREE_FACE)
    with pytest.raises(DomainError) as err:
        accounts.prepare_registration(*args, agree=False, agree_face=True)
    assert (err.value.field, err.value.message) == ("agree", consents.MSG_AGREE)
    _, pending = accounts.prepare_registration(*args, agree=True, agree_face=True)
    assert pending.consents == current_versions()
    # A pending registration that lost its face consent is refused at completion too.
    stripped = accounts.PendingRegistration(**{**pending.__dict__, "consents": {
        TERMS: pending.consents[TERMS], PRIVACY: pending.consents[PRIVACY]}})
    with pytest.raises(DomainError) as err:
        accounts.complete_registration(stripped, Actor())
    assert err.value.field == "agree_face"
    assert count(User) == 0


def test_consents_are_stored_with_their_versions(client, factory):
    person = factory.person(name="钱多多")
    assert register_through(client, person).status_code == 302
    user = db.session.scalars(select(User)).one()
    rows = rows_of(user)
    assert {(r.kind, r.version) for r in rows} == {
        (TERMS, "2026-01"), (PRIVACY, "2026-01"), (FACE, "2026-01")}
    for row in rows:
        assert row.text_sha256 == documents.text_sha256(row.kind, row.version)
        assert row.accepted_at is not None and row.withdrawn_at is None
        assert row.request_id  # the request that accepted it
    audit = db.session.scalars(select(AuditLog).filter_by(action="account.consent")).one()
    assert json.loads(audit.detail)["versions"] == current_versions()
    # Stored in the registration's transaction: same request as the account.register row.
    register = db.session.scalars(select(AuditLog).filter_by(action="account.register")).one()
    assert register.request_id == audit.request_id == rows[0].request_id


def test_the_register_form_links_each_document_and_each_page_shows_its_version(client):
    html = client.get("/auth/register").get_data(as_text=True)
    for kind in (TERMS, PRIVACY, FACE):
        assert f'href="/auth/documents/{kind}"' in html
    assert "单独同意" in html
    for kind, title in ((TERMS, "用户协议"), (PRIVACY, "隐私政策"), (FACE, "人脸信息处理规则")):
        page = client.get(f"/auth/documents/{kind}").get_data(as_text=True)
        assert title in page and "版本：2026-01" in page
        assert client.get(f"/auth/documents/{kind}/2026-01").status_code == 200
    assert client.get("/auth/documents/other").status_code == 404
    assert client.get("/auth/documents/terms/1999-01").status_code == 404


def test_me_links_the_documents_and_the_face_consent(client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    html = client.get("/auth/me").get_data(as_text=True)
    for href in ("/auth/documents/terms", "/auth/documents/privacy", "/auth/documents/face",
                 "/auth/face-consent", "/auth/close"):
        assert f'href="{href}"' in html


# --- a new version --------------------------------------------------------------------------

@pytest.fixture
def new_privacy(monkeypatch, tmp_path):
    """Call to publish 隐私政策 2026-07 (a new file beside the kept ones)."""

    def publish() -> str:
        content = tmp_path / "content"
        shutil.copytree(documents.CONTENT, content)
        (content / "privacy_2026-07.md").write_text("# 亲情医保隐私政策\n\n新增：……\n",
                                                    encoding="utf-8")
        monkeypatch.setattr(documents, "CONTENT", content)
        monkeypatch.setitem(documents.DOCUMENTS, PRIVACY,
                            Document(PRIVACY, "隐私政策", "2026-07"))
        documents.text.cache_clear()
        return "2026-07"

    yield publish
    documents.text.cache_clear()


def registered(client, factory) -> User:
    person = factory.person(name="孙悦")
    assert register_through(client, person).status_code == 302
    return db.session.scalars(select(User)).one()


def test_a_new_privacy_version_is_asked_for_after_login(client, factory, new_privacy):
    user = registered(client, factory)  # registered under 2026-01, still logged in
    assert client.get("/").status_code == 200
    version = new_privacy()
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/auth/consents?next=/"
    page = client.get("/auth/consents?next=/").get_data(as_text=True)
    assert "《隐私政策》" in page and "新版本 2026-07" in page and "2026-01" in page
    assert "《用户协议》" not in page  # unchanged documents are not asked again
    # Without the tick: refused, nothing stored, still asked.
    refused = refused_page(client, client.post("/auth/consents?next=/", data={})).get_data(as_text=True)
    assert consents.MSG_OUTDATED in refused
    assert len(rows_of(user)) == 3
    assert client.get("/records/").status_code == 302
    done = refused_page(client, client.post("/auth/consents?next=/", data={"agree": "y"}))
    assert done.status_code == 302 and done.headers["Location"] == "/"
    newest = rows_of(user)[-1]
    assert (newest.kind, newest.version) == (PRIVACY, version)
    assert consents.outdated(user) == []
    assert client.get("/").status_code == 200


def test_the_new_version_is_asked_on_a_fresh_login_too(client, factory, auth, new_privacy):
    user = registered(client, factory)
    new_privacy()
    auth.logout()
    auth.login(user.phone, "abc12345")
    assert client.get("/auth/me").headers["Location"].startswith("/auth/consents")
    # The documents themselves stay readable meanwhile.
    assert client.get("/auth/documents/privacy").status_code == 200


def test_accounts_without_recorded_consents_are_not_stopped(client, factory, auth, new_privacy):
    user = factory.user()  # made before consents were recorded (fixtures, the demo)
    new_privacy()
    auth.login(user.phone)
    assert client.get("/").status_code == 200
    assert consents.outdated(user) == []


def test_a_registration_filled_under_the_old_version_asks_again(client, factory, monkeypatch):
    person = factory.person()
    first = refused_page(client, client.post("/auth/register", data=form_for(person)))
    assert first.status_code == 302
    monkeypatch.setitem(documents.DOCUMENTS, FACE, Document(FACE, "人脸信息处理规则", "2026-09"))
    _, pending = accounts.prepare_registration(
        "13812345678", "abc12345", person.name, person.id_number, True, True)
    old = accounts.PendingRegistration(**{**pending.__dict__,
                                          "consents": {**pending.consents, FACE: "2026-01"}})
    with pytest.raises(DomainError) as err:
        accounts.complete_registration(old, Actor())
    assert err.value.message == consents.MSG_OUTDATED
    assert count(User) == 0


# --- withdrawing the face-data consent ------------------------------------------------------

def test_withdrawing_face_consent_needs_the_password_and_can_be_given_again(client, factory):
    user = registered(client, factory)
    page = client.get("/auth/face-consent").get_data(as_text=True)
    assert "撤回同意意味着什么" in page and "已授权" in page
    wrong = refused_page(client, client.post("/auth/face-consent", data={"action": "withdraw", "w-password": "nope"}))
    assert consents.MSG_WRONG_PASSWORD in wrong.get_data(as_text=True)
    assert consents.face_allowed(user)
    ok = refused_page(client, client.post("/auth/face-consent",
                     data={"action": "withdraw", "w-password": "abc12345"}))
    assert ok.status_code == 302
    assert not consents.face_allowed(user)
    face_row = [r for r in rows_of(user) if r.kind == FACE][-1]
    assert face_row.withdrawn_at is not None
    assert "已撤回" in client.get("/auth/me").get_data(as_text=True)
    assert db.session.scalar(select(func.count(AuditLog.id))
                             .filter_by(action="account.consent_withdrawn")) == 1
    # Withdrawn: a flow that needs a face check sends the user to give the consent again.
    checks = count(FaceCheck)
    stopped = client.post("/aid/create")
    assert stopped.status_code == 302 and stopped.headers["Location"] == "/auth/face-consent"
    assert count(FaceCheck) == checks
    assert consents.MSG_FACE_NEEDED in client.get("/auth/face-consent").get_data(as_text=True)
    again = refused_page(client, client.post("/auth/face-consent", data={"action": "give", "g-agree_face": "y"}))
    assert again.status_code == 302
    assert consents.face_allowed(user)
    assert client.post("/aid/create").headers["Location"].startswith("/face/")
    assert len(rows_of(user)) == 4  # the withdrawn row is kept beside the new one


def test_consent_pages_never_write_on_get(client, factory, new_privacy):
    registered(client, factory)
    new_privacy()
    before = (count(Consent), count(AuditLog))
    for path in ("/auth/consents", "/auth/face-consent", "/auth/documents/privacy",
                 "/auth/documents/face/2026-01", "/auth/close"):
        assert client.get(path).status_code in (200, 302), path
    assert (count(Consent), count(AuditLog)) == before
