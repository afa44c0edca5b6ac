"""Simulated face check: attempts, photo rules (where the policy allows a photo), one-time
passes, session binding. The liveness sequence itself is in tests/test_liveness.py."""

from __future__ import annotations

import functools
import hashlib
import io
import re
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from tests.helpers import refused_page
from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.face import services as face
from webapp.face.verifier import Frame
from webapp.models import AuditLog, FaceCheck
from webapp.policy import policy_for

ACTOR = Actor(ip="127.0.0.1", user_agent="pytest")
# A purpose the shipped policy allows a photo for, and one it never does.
PHOTO_OK = "register"


# --- images -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def face_image(size: tuple[int, int] = (320, 320), fmt: str = "PNG", seed: int = 1,
               shift: int = 0) -> bytes:
    """A real photo-like image: a gradient background with a face-ish drawing on it, the face
    moved ``shift`` pixels to the right (a head turning, frame by frame)."""
    width, height = size
    image = Image.new("RGB", size)
    pixels = image.load()
    for x in range(width):
        for y in range(height):
            pixels[x, y] = ((x * 255 // width + seed) % 256, (y * 255 // height) % 256, 140)
    draw = ImageDraw.Draw(image)
    dx = shift
    draw.ellipse((width * 0.25 + dx, height * 0.15, width * 0.75 + dx, height * 0.85),
                 fill=(236, 200, 170))
    draw.ellipse((width * 0.36 + dx, height * 0.38, width * 0.44 + dx, height * 0.46),
                 fill=(30, 30, 30))
    draw.ellipse((width * 0.56 + dx, height * 0.38, width * 0.64 + dx, height * 0.46),
                 fill=(30, 30, 30))
    draw.arc((width * 0.38 + dx, height * 0.5, width * 0.62 + dx, height * 0.7), 20, 160,
             fill=(120, 30, 30), width=3)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def blank_image(size: tuple[int, int] = (320, 320), colour=(128, 128, 128)) -> bytes:
    """A flat image: decodable, right size, nothing on it."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


# --- helpers ------------------------------------------------------------------------------

def own(client, check: FaceCheck) -> None:
    """Make the test client the browser session that began the check."""
    with client.session_transaction() as sess:
        sess["face_checks"] = [*sess.get("face_checks", []), check.public_id]


def post_image(client, check: FaceCheck, data: bytes | None, nonce: str | None = None,
               json: bool = False, filename: str = "face.png", **kw):
    form = {"nonce": check.nonce if nonce is None else nonce}
    if data is not None:
        form["image"] = (io.BytesIO(data), filename)
    headers = {"Accept": "application/json"} if json else {}
    return refused_page(client, client.post(f"/face/{check.public_id}", data=form, headers=headers,
                       content_type="multipart/form-data", **kw))


def live_frames(check: FaceCheck, per_action: int | None = None, gap_ms: int = 450,
                images: list[bytes] | None = None) -> list[Frame]:
    """A good liveness sequence for the attempt: ``per_action`` frames (the policy's number by
    default) for each asked action, in order, the face moving from frame to frame."""
    rules = face.rules_for(face.person_of(check))
    per_action = rules.frames_per_action if per_action is None else per_action
    actions = [a for a in face.actions_of(check) for _ in range(per_action)]
    images = images or [face_image(fmt="JPEG", shift=12 * i) for i in range(len(actions))]
    return [Frame(data=data, action=action, at_ms=700 + i * gap_ms)
            for i, (data, action) in enumerate(zip(images, actions, strict=False))]


def post_live(client, check: FaceCheck, frames: list[Frame] | None = None,
              nonce: str | None = None, json: bool = False, **kw):
    """Post a liveness sequence to the face page, as face.js does (a good one by default)."""
    frames = live_frames(check) if frames is None else frames
    form: dict = {"nonce": check.nonce if nonce is None else nonce,
                  "frame": [(io.BytesIO(f.data), f"frame-{i}.jpg") for i, f in enumerate(frames)],
                  "frame_action": [f.action for f in frames],
                  "frame_ms": [str(f.at_ms) for f in frames]}
    headers = {"Accept": "application/json"} if json else {}
    return refused_page(client, client.post(f"/face/{check.public_id}", data=form, headers=headers,
                       content_type="multipart/form-data", **kw))


def pass_live(person, purpose: str, next_url: str = "/") -> FaceCheck:
    """Begin an attempt and pass it with a good sequence (service level)."""
    check = face.begin(person, purpose, next_url)
    return face.submit_live(check, check.nonce, live_frames(check), ACTOR)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- the photo (only where the policy allows it) ------------------------------------------

def test_real_png_passes_and_only_its_hash_is_kept(app, factory):
    person = factory.person()
    check = face.begin(person, PHOTO_OK, "/auth/register/complete")
    image = face_image()
    face.submit_photo(check, check.nonce, image, ACTOR)
    db.session.expire_all()
    stored = db.session.get(FaceCheck, check.id)
    assert stored.result == "passed" and stored.method == "photo"
    assert stored.image_sha256 == hashlib.sha256(image).hexdigest()
    assert stored.checked_at is not None
    assert face.has_pass(person, PHOTO_OK)
    actions = db.session.scalars(select(AuditLog.action)).all()
    assert "face_check.pass" in actions


def test_jpeg_and_webp_pass(app, factory):
    person = factory.person()
    for fmt in ("JPEG", "WEBP"):
        check = face.begin(person, PHOTO_OK, "/")
        face.submit_photo(check, check.nonce, face_image(fmt=fmt), ACTOR)
        assert check.result == "passed"


def test_no_image_bytes_in_the_database(app, factory, tmp_path):
    person = factory.person()
    check = face.begin(person, PHOTO_OK, "/")
    image = face_image(seed=77)
    face.submit_photo(check, check.nonce, image, ACTOR)
    live = face.begin(person, "kinship_add", "/")
    frames = live_frames(live)
    face.submit_live(live, live.nonce, frames, ACTOR)
    # No column of the face_check table can hold an image, and the bytes are nowhere.
    kinds = {type(c.type).__name__ for c in FaceCheck.__table__.columns}
    assert not kinds & {"LargeBinary", "BLOB", "BYTEA"}
    if db.engine.dialect.name == "sqlite":
        db.session.remove()
        db.engine.dispose()
        raw = (tmp_path / "test.sqlite").read_bytes()
        assert image[100:164] not in raw
        assert all(f.data[200:264] not in raw for f in frames)
        assert hashlib.sha256(image).hexdigest().encode() in raw


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (blank_image(), face.MSG_UNCLEAR),
        (blank_image(colour=(0, 0, 0)), face.MSG_UNCLEAR),
        (b"\x89PNG\r\n\x1a\n garbage that is not an image", face.MSG_NOT_IMAGE),
        (b"GIF89a" + b"\x00" * 100, face.MSG_NOT_IMAGE),
        (b"", face.MSG_NO_IMAGE),
    ],
    ids=["blank-grey", "blank-black", "garbage", "gif-header", "empty"],
)
def test_bad_images_fail_with_a_clear_message(app, factory, data, message):
    person = factory.person()
    check = face.begin(person, PHOTO_OK, "/")
    with pytest.raises(DomainError) as err:
        face.submit_photo(check, check.nonce, data, ACTOR)
    assert err.value.message == message
    db.session.expire_all()
    assert db.session.get(FaceCheck, check.id).result == "failed"
    assert not face.has_pass(person, PHOTO_OK)
    assert "face_check.fail" in db.session.scalars(select(AuditLog.action)).all()


def test_gif_is_not_accepted(app, factory):
    out = io.BytesIO()
    Image.open(io.BytesIO(face_image())).save(out, format="GIF")
    person = factory.person()
    check = face.begin(person, PHOTO_OK, "/")
    with pytest.raises(DomainError, match="JPG、PNG或WebP"):
        face.submit_photo(check, check.nonce, out.getvalue(), ACTOR)


@pytest.mark.parametrize(
    ("size", "message"),
    [((32, 32), face.MSG_TOO_SMALL), ((200, 40), face.MSG_TOO_SMALL),
     ((4100, 80), face.MSG_TOO_LARGE)],
    ids=["tiny", "thin", "huge"],
)
def test_image_dimensions(app, factory, size, message):
    person = factory.person()
    check = face.begin(person, PHOTO_OK, "/")
    with pytest.raises(DomainError) as err:
        face.submit_photo(check, check.nonce, face_image(size=size), ACTOR)
    assert err.value.message == message


def test_too_many_bytes(app, factory):
    person = factory.person()
    check = face.begin(person, PHOTO_OK, "/")
    big = face_image() + b"\x00" * policy_for(person.region_code).face.photo_max_bytes
    with pytest.raises(DomainError) as err:
        face.submit_photo(check, check.nonce, big, ACTOR)
    assert err.value.message == face.MSG_TOO_LARGE


# --- attempts and passes ------------------------------------------------------------------

def test_wrong_nonce_is_refused_and_changes_nothing(app, factory):
    person = factory.person()
    check = face.begin(person, "kinship_add", "/")
    with pytest.raises(DomainError) as err:
        face.submit_live(check, "not-the-nonce", live_frames(check), ACTOR)
    assert err.value.message == face.MSG_BAD_NONCE
    db.session.expire_all()
    assert db.session.get(FaceCheck, check.id).result == "pending"


def test_decided_challenge_cannot_be_reused(app, factory):
    person = factory.person()
    check = pass_live(person, "kinship_add")
    with pytest.raises(DomainError) as err:
        face.submit_live(check, check.nonce, live_frames(check), ACTOR)
    assert err.value.message == face.MSG_NOT_PENDING


def test_expired_challenge(app, factory):
    person = factory.person()
    seconds = policy_for(person.region_code).face.attempt_valid_seconds
    start = clock.now()
    clock.freeze(start)
    check = face.begin(person, "kinship_add", "/")
    clock.freeze(start + timedelta(seconds=seconds + 1))
    with pytest.raises(DomainError) as err:
        face.submit_live(check, check.nonce, live_frames(check), ACTOR)
    assert err.value.message == face.MSG_EXPIRED == "本次人脸识别已超时，请重新识别"
    assert not face.has_pass(person, "kinship_add")


def test_flagged_person_fails(app, factory):
    person = factory.person(face_check_fails=True)
    check = face.begin(person, "kinship_add", "/")
    with pytest.raises(DomainError) as err:
        face.submit_live(check, check.nonce, live_frames(check), ACTOR)
    assert err.value.message == "人脸识别未通过，请确认是本人操作"
    assert check.result == "failed" or db.session.get(FaceCheck, check.id).result == "failed"
    with pytest.raises(DomainError, match="请先完成人脸识别"):
        face.consume(person, "kinship_add")


def test_a_pass_is_good_once(app, factory):
    person = factory.person()
    check = pass_live(person, "kinship_add")
    face.consume(person, "kinship_add")
    db.session.commit()
    assert not face.has_pass(person, "kinship_add")
    with pytest.raises(DomainError) as err:
        face.consume(person, "kinship_add")
    assert err.value.message == "请先完成人脸识别"
    db.session.expire_all()
    assert db.session.get(FaceCheck, check.id).consumed_at is not None


def test_a_pass_is_for_its_purpose_and_person(app, factory):
    person, other = factory.person(), factory.person(name="李四")
    pass_live(person, "kinship_add")
    with pytest.raises(DomainError):
        face.consume(person, "register")
    with pytest.raises(DomainError):
        face.consume(other, "kinship_add")
    assert face.has_pass(person, "kinship_add")


def test_consume_rolled_back_leaves_the_pass(app, factory):
    person = factory.person()
    pass_live(person, "kinship_add")
    face.consume(person, "kinship_add")
    db.session.rollback()
    assert face.has_pass(person, "kinship_add")


def test_pass_expires_after_the_policy_seconds(app, factory):
    person = factory.person()
    seconds = policy_for(person.region_code).face.pass_valid_seconds
    start = clock.now()
    clock.freeze(start)
    pass_live(person, "kinship_add")
    clock.freeze(start + timedelta(seconds=seconds))
    assert face.has_pass(person, "kinship_add")
    clock.freeze(start + timedelta(seconds=seconds + 1))
    assert not face.has_pass(person, "kinship_add")
    with pytest.raises(DomainError, match="请先完成人脸识别"):
        face.consume(person, "kinship_add")


def test_next_url_is_kept_local(app, factory):
    person = factory.person()
    assert face.begin(person, "x", "https://evil.example/").next_url == "/"
    assert face.begin(person, "x", "//evil.example/").next_url == "/"
    assert face.begin(person, "x", "/family/add/notice").next_url == "/family/add/notice"


def test_the_verifier_is_replaceable(app, factory):
    calls = []

    class AlwaysNo:
        def verify_live(self, person, actions, frames, rules):
            calls.append((person.id, tuple(actions), len(frames)))
            return face.VerifierResult(passed=False, sha256="0" * 64, code="mismatch",
                                       message="供应商：比对不一致")

        def verify_photo(self, person, image_bytes, rules):  # pragma: no cover - not asked
            raise AssertionError("the photo path is not used for kinship_add")

    assert isinstance(face.SimulatedVerifier(), face.FaceVerifier)
    assert isinstance(AlwaysNo(), face.FaceVerifier)
    app.config["FACE_VERIFIER"] = AlwaysNo
    person = factory.person()
    check = face.begin(person, "kinship_add", "/")
    with pytest.raises(DomainError, match="供应商：比对不一致"):
        face.submit_live(check, check.nonce, live_frames(check), ACTOR)
    assert calls == [(person.id, face.actions_of(check), 6)]


# --- routes -------------------------------------------------------------------------------

def test_camera_page(client, factory):
    person = factory.person(name="王小明")
    check = face.begin(person, "register", "/auth/register/complete")
    own(client, check)
    response = client.get(f"/face/{check.public_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "注册账号需要验证是本人操作" in html
    assert "开始识别" in html
    assert re.search(r'class="app-face[ "]', html)
    assert 'capture="user"' in html and 'accept="image/*"' in html  # register allows a photo
    assert 'enctype="multipart/form-data"' in html
    assert check.nonce in html
    assert "王*明" in html and "王小明" not in html
    assert "js/face.js" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html


def test_route_pass_redirects_to_next(client, factory):
    person = factory.person()
    check = face.begin(person, "kinship_add", "/family/add/notice")
    own(client, check)
    response = post_live(client, check)
    assert response.status_code == 302
    assert response.headers["Location"] == "/family/add/notice"
    assert face.has_pass(person, "kinship_add")


def test_route_pass_json(client, factory):
    person = factory.person()
    check = face.begin(person, "kinship_add", "/family/add/notice")
    own(client, check)
    response = post_live(client, check, json=True)
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "next": "/family/add/notice"}
    db.session.expire_all()
    assert db.session.get(FaceCheck, check.id).method == "live"


def test_route_failure_rerenders_with_a_new_challenge(client, factory):
    person = factory.person()
    check = face.begin(person, "register", "/")
    own(client, check)
    response = post_image(client, check, blank_image())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "未检测到清晰的人脸图像，请正对屏幕重试" in html
    fresh = db.session.scalars(
        select(FaceCheck).where(FaceCheck.id != check.id, FaceCheck.person_id == person.id)
    ).one()
    assert fresh.result == "pending" and fresh.purpose == "register"
    assert f"/face/{fresh.public_id}" in html and fresh.nonce in html
    # The retry works on the new challenge.
    ok = post_live(client, fresh)
    assert ok.status_code == 302


def test_route_failure_json(client, factory):
    person = factory.person(face_check_fails=True)
    check = face.begin(person, "kinship_add", "/")
    own(client, check)
    response = post_live(client, check, json=True)
    assert response.status_code == 422
    body = response.get_json()
    assert body["ok"] is False
    assert body["error"] == "人脸识别未通过，请确认是本人操作"
    assert body["action"].startswith("/face/") and body["nonce"]
    fresh = face.get_check(body["action"].rsplit("/", 1)[1])
    assert [s["code"] for s in body["steps"]] == list(face.actions_of(fresh))
    assert {s["label"] for s in body["steps"]} <= {"眨眼", "张嘴", "左转", "右转"}


def test_wrong_nonce_route(client, factory):
    person = factory.person()
    check = face.begin(person, "kinship_add", "/")
    own(client, check)
    response = post_live(client, check, nonce="forged")
    assert response.status_code == 200
    assert "人脸识别请求无效" in response.get_data(as_text=True)
    assert not face.has_pass(person, "kinship_add")


def test_other_sessions_challenge_is_404(app, client, factory):
    person = factory.person()
    check = face.begin(person, "kinship_add", "/")
    assert client.get(f"/face/{check.public_id}").status_code == 404
    response = post_live(client, check)
    assert response.status_code == 404
    assert "不存在" in response.get_data(as_text=True)
    assert not face.has_pass(person, "kinship_add")
    other = app.test_client()
    own(other, check)
    assert other.get(f"/face/{check.public_id}").status_code == 200


def test_expired_challenge_page_starts_a_new_one(client, factory):
    person = factory.person()
    check = face.begin(person, "kinship_add", "/")
    own(client, check)
    clock.shift(timedelta(seconds=policy_for(person.region_code).face.attempt_valid_seconds + 5))
    response = client.get(f"/face/{check.public_id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/face/")
    assert check.public_id not in response.headers["Location"]
    assert client.get(response.headers["Location"]).status_code == 200
    expired = post_live(client, check)
    assert "已超时" in expired.get_data(as_text=True)


def test_start_face_check_helper(app, factory):
    from webapp.blueprints.face import start_face_check

    person = factory.person()
    with app.test_request_context("/"):
        from flask import session

        response = start_face_check(person, "kinship_add", "/family/add/notice")
        check = db.session.scalars(select(FaceCheck)).one()
        assert response.status_code == 302
        assert response.headers["Location"] == f"/face/{check.public_id}"
        assert session["face_checks"] == [check.public_id]
    assert check.next_url == "/family/add/notice" and check.purpose == "kinship_add"
    assert len(face.actions_of(check)) == 2


def test_face_posts_are_rate_limited(app, client, factory):
    app.config["RATELIMIT_FACE"] = "3 per minute"
    person = factory.person()
    check = face.begin(person, "register", "/")
    own(client, check)
    for _ in range(3):
        post_image(client, check, b"x", nonce="bad")
    response = post_live(client, check)
    assert response.status_code == 429
    assert "操作过于频繁" in response.get_data(as_text=True)
    assert count(FaceCheck) >= 1
