"""The careless user and the attacker on the routes of issue 11: a version field of digits
Python alone calls digits, pages added at once racing the table's most (PostgreSQL), forged
page uploads, replayed POSTs, and what a hostile client posts to the liveness endpoint."""

from __future__ import annotations

import io
import zlib
from struct import pack

import pytest
from sqlalchemy import func, select

from tests import kinship_factories as kf
from tests.helpers import login, refused_page, run_concurrently
from tests.test_binding_edit import family, url  # noqa: F401 - the fixture
from tests.test_consents import new_privacy  # noqa: F401 - the fixture
from tests.test_face import live_frames, own, post_live
from tests.test_material_pages import send, shown_pages
from tests.test_materials import MATERIAL, count, error_text, holder  # noqa: F401
from webapp.audit.services import Actor
from webapp.extensions import db
from webapp.face import services as face
from webapp.kinship import edit
from webapp.kinship import pages as material_pages
from webapp.models import InsuredPerson, KinshipBinding, KinshipMaterial
from webapp.policy import current_table

FACE = "kinship_add"


# --- 编辑 --------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["²", "١", "99999999999999999999999999"])
def test_an_odd_version_field_never_answers_500(client, family, version):  # noqa: F811
    """"²".isdigit() is true but int("²") fails: the save must not 500 on it."""
    user, _, b = family
    kf.face_pass(user.person, edit.PURPOSE)
    client.post(url(b), data={"relation": "child", "phone": "13812345678", "version": version})
    response = client.post(url(b, "/confirm"))
    assert response.status_code in (302, 303)


def test_a_replayed_edit_save_changes_nothing_more(client, family):  # noqa: F811
    user, _, b = family
    kf.face_pass(user.person, edit.PURPOSE, count=2)
    client.post(url(b), data={"relation": "child", "phone": "13812345678",
                              "version": str(b.version)})
    assert client.post(url(b, "/confirm")).status_code == 302
    db.session.expire_all()
    version = db.session.get(KinshipBinding, b.id).version
    again = client.post(url(b, "/confirm"))
    assert again.status_code == 302 and again.location.endswith(f"/family/members/{b.public_id}")
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).version == version
    assert face.has_pass(user.person, edit.PURPOSE)  # the second pass is not spent


# --- material pages ------------------------------------------------------------------------

def huge_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A small file claiming a huge picture (a pixel bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return pack(">I", len(body)) + kind + body + pack(">I", zlib.crc32(kind + body))
    head = pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


JS_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>endobj\n"
          b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
          b"3 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF")


@pytest.mark.parametrize("body,name", [
    (JS_PDF, "a.pdf"),
    (b"<html><script>alert(1)</script></html>", "photo.jpg"),
    (huge_png(), "bomb.png"),
], ids=["pdf-js", "html-as-jpg", "pixel-bomb"])
def test_forged_pages_are_refused_in_chinese(client, holder, body, name):  # noqa: F811
    response = refused_page(client, send(client, [(body, name)], upload="1"))
    text = error_text(response)
    assert response.status_code == 200 and text and any("\u4e00" <= c <= "\u9fff" for c in text)
    assert count() == 0


def test_a_replayed_page_removal_answers_cleanly(client, holder):  # noqa: F811
    send(client, [(kf.png_bytes(), "a.png"), (kf.png_bytes(size=(200, 100)), "b.png")],
         upload="1")
    first, second = shown_pages(client)
    for _ in range(2):
        response = client.post(MATERIAL, data={"material_type": "birth_cert", "remove": first},
                               content_type="multipart/form-data")
        assert response.status_code in (302, 303)
    assert shown_pages(client) == [second] and count() == 1


@pytest.mark.postgres
def test_pages_added_at_once_stay_within_the_most(pg_app):
    """Six pages of one set added at the same moment: the table's most are stored, the rest
    refused with its Chinese message (the owner's row is locked while counting)."""
    from tests import factories

    owner = factories.person(name="李华", age=35)
    db.session.commit()
    owner_id, key, data = owner.id, material_pages.new_set_key(), kf.png_bytes()
    most = current_table().pages_for("birth_cert").max

    def work(_i: int) -> str:
        person = db.session.get(InsuredPerson, owner_id)
        material_pages.add_page(person, key, "birth_cert", io.BytesIO(data), ["birth_cert"],
                                ["jpg", "png", "pdf"], 5_000_000, Actor(label="t"))
        return "stored"

    results = run_concurrently(pg_app, 6, work, refused=lambda err: err.message)
    stored = db.session.scalar(select(func.count(KinshipMaterial.id))
                               .where(KinshipMaterial.set_key == key))
    assert stored == most and results.count("stored") == most
    assert set(results) - {"stored"} == {f"出生医学证明最多上传{most}页"}


# --- the liveness endpoint -----------------------------------------------------------------

@pytest.fixture
def attempt(client, factory):
    user = factory.user()
    login(client, user)
    check = face.begin(user.person, FACE, "/")
    own(client, check)
    return user, check


def test_a_thousand_frames_are_refused_without_500(client, attempt):
    user, check = attempt
    data = {"nonce": check.nonce, "frame": [(io.BytesIO(b"x"), "f.jpg")] * 1000,
            "frame_action": ["blink"] * 1000, "frame_ms": ["1"] * 1000}
    response = refused_page(client, client.post(f"/face/{check.public_id}", data=data,
                           headers={"Accept": "application/json"},
                           content_type="multipart/form-data"))
    assert 400 <= response.status_code < 500
    assert not face.has_pass(user.person, FACE)


@pytest.mark.parametrize("field", ["frame_action", "nonce"])
def test_a_huge_text_field_is_refused_without_500(client, attempt, field):
    """A frame posted as base64 text, 5 MB of it, in a text field."""
    user, check = attempt
    frames = live_frames(check)
    data = {"nonce": check.nonce, "frame": [(io.BytesIO(f.data), "f.jpg") for f in frames],
            "frame_action": [f.action for f in frames], "frame_ms": [str(f.at_ms) for f in frames]}
    data[field] = "QUJD" * 1_300_000
    response = refused_page(client, client.post(f"/face/{check.public_id}", data=data,
                           headers={"Accept": "application/json"},
                           content_type="multipart/form-data"))
    assert 400 <= response.status_code < 500
    assert not face.has_pass(user.person, FACE)


def test_a_replayed_face_submission_passes_once(client, attempt):
    user, check = attempt
    frames = live_frames(check)
    assert post_live(client, check, frames).status_code == 302
    again = post_live(client, check, frames)
    assert again.status_code in (302, 303)
    assert face.has_pass(user.person, FACE)
    face.consume(user.person, FACE)
    db.session.commit()
    assert not face.has_pass(user.person, FACE)  # one pass, not two


# --- consents ------------------------------------------------------------------------------

def test_replayed_consent_posts_change_nothing_more(client, factory, new_privacy):  # noqa: F811
    """协议更新 accepted twice, 人脸信息 withdrawn twice, given twice: one row each time."""
    from tests.test_consents import registered, rows_of

    user = registered(client, factory)
    new_privacy()
    for _ in range(2):
        assert refused_page(client, client.post("/auth/consents?next=/",
                                                data={"agree": "y"})).status_code == 302
    assert len(rows_of(user)) == 4
    for action, data in (("withdraw", {"w-password": "abc12345"}), ("give", {"g-agree_face": "y"})):
        answers = [client.post("/auth/face-consent", data={"action": action, **data})
                   for _ in range(2)]
        assert all(a.status_code in (200, 302, 303, 409) for a in answers)
    assert len(rows_of(user)) == 5


# --- documents -----------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["x" * 300, "..", "2026-01.md", "%00", "2026-01%2F..",
                                     "２０２６-01"])
def test_an_odd_document_version_is_404(client, version):
    """A kind that exists with a version no file has: 404, or 400 for NUL (a long one was an
    OSError, 500)."""
    assert client.get(f"/auth/documents/terms/{version}").status_code in (400, 404)
    assert client.get("/auth/documents/terms/2026-01").status_code == 200


@pytest.mark.parametrize("value", ["blink\x00", "\ud800", "9" * 30], ids=["nul", "surrogate", "big"])
def test_nasty_frame_fields_through_the_route_are_4xx(client, attempt, value):
    """NUL, a lone surrogate (raw bytes) or a huge number in every text field of a frame post."""
    user, check = attempt
    frames = live_frames(check)
    raw = value.encode("utf-8", "surrogatepass")
    data = {"nonce": raw, "frame": [(io.BytesIO(f.data), "f.jpg") for f in frames],
            "frame_action": [raw] * len(frames), "frame_ms": [raw] * len(frames)}
    response = client.post(f"/face/{check.public_id}", data=data,
                           headers={"Accept": "application/json"},
                           content_type="multipart/form-data")
    assert 400 <= response.status_code < 500
    assert not face.has_pass(user.person, FACE)
