"""Liveness with the real shape: random actions per attempt, several frames across a few
seconds checked server-side, and the photo fallback only where the policy allows it (never for
a binding or a 共济 invitation). Thresholds come from the policy table's "face" section."""

from __future__ import annotations

import copy
import io
import json
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from tests.helpers import login, refused_page
from tests.test_face import (
    ACTOR,
    blank_image,
    face_image,
    live_frames,
    own,
    pass_live,
    post_image,
    post_live,
)
from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.face import notices as msg
from webapp.face import services as face
from webapp.face.rules import ACTIONS, PHOTO_NEVER
from webapp.face.verifier import Frame
from webapp.models import AuditLog, FaceCheck
from webapp.policy import DEFAULT_PATH, PolicyError, load_policy, policy_for

BINDING = "kinship_add"


def rules(person):
    return policy_for(person.region_code).face


def refused(check, frames, message, actor=ACTOR):
    """Submitting the frames is refused with exactly this message; nothing passes."""
    with pytest.raises(DomainError) as err:
        face.submit_live(check, check.nonce, frames, actor)
    assert err.value.message == message
    assert not face.has_pass(face.person_of(check), check.purpose)
    return err.value


def good_images(count: int = 6) -> list[bytes]:
    """Frames of a face moving a little from one to the next (JPEG)."""
    return [face_image(fmt="JPEG", shift=12 * i) for i in range(count)]


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


# --- the asked actions ----------------------------------------------------------------------

def test_each_attempt_draws_its_own_actions_and_keeps_them(app, factory):
    person = factory.person()
    drawn = []
    for _ in range(40):
        check = face.begin(person, BINDING, "/")
        db.session.expire_all()
        stored = db.session.get(FaceCheck, check.id)
        actions = face.actions_of(stored)
        assert len(actions) == rules(person).actions_per_check == 2
        assert len(set(actions)) == 2 and set(actions) <= set(ACTIONS)
        drawn.append(actions)
    # 12 ordered pairs of 4 actions: 40 draws all alike would be a broken random source.
    assert len(set(drawn)) >= 4
    assert {a for pair in drawn for a in pair} == {"blink", "open_mouth", "turn_left", "turn_right"}


def test_the_page_shows_the_actions_in_order(client, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    own(client, check)
    html = client.get(f"/face/{check.public_id}").get_data(as_text=True)
    labels = [ACTIONS[a][0] for a in face.actions_of(check)]
    positions = [html.index(f'data-face-step="{a}"') for a in face.actions_of(check)]
    assert positions == sorted(positions)
    for action, label in zip(face.actions_of(check), labels, strict=True):
        assert label in html and ACTIONS[action][1] in html
    assert 'data-face-frames-per-action="3"' in html
    assert 'max="6"' in html  # the progress bar counts the frames


# --- a good sequence --------------------------------------------------------------------------

def test_a_good_sequence_passes_and_keeps_only_a_digest(app, factory):
    person = factory.person()
    check = pass_live(person, BINDING)
    db.session.expire_all()
    stored = db.session.get(FaceCheck, check.id)
    assert stored.result == "passed" and stored.method == "live"
    assert len(stored.image_sha256) == 64
    assert face.has_pass(person, BINDING)
    log = db.session.scalars(select(AuditLog).filter_by(action="face_check.pass")).one()
    assert "live" in json.dumps(log.detail, ensure_ascii=False)


def test_more_frames_per_action_within_the_limit_pass(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    face.submit_live(check, check.nonce, live_frames(check, per_action=5), ACTOR)
    assert check.result == "passed"


# --- refused sequences ------------------------------------------------------------------------

def test_too_few_frames(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    refused(check, live_frames(check)[:-1], msg.MSG_FEW_FRAMES)
    assert msg.MSG_FEW_FRAMES == "采集到的画面不足，请按提示完成全部动作"
    db.session.expire_all()
    assert db.session.get(FaceCheck, check.id).result == "failed"


def test_no_frames_at_all(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    refused(check, [], msg.MSG_FEW_FRAMES)


def test_too_many_frames(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    per_action = rules(person).max_frames // 2 + 1
    refused(check, live_frames(check, per_action=per_action), msg.MSG_MANY_FRAMES)


def test_the_same_frame_repeated(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    one = face_image(fmt="JPEG")
    frames = live_frames(check, images=[one] * 6)
    refused(check, frames, "检测到重复的画面，请正对摄像头按提示完成动作")


def test_the_same_picture_re_encoded_is_still_the_same(app, factory):
    """Re-encoding one picture at other qualities changes the bytes, not the picture."""
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    picture = Image.open(io.BytesIO(face_image(fmt="JPEG")))
    images = [jpeg(picture, q) for q in (95, 90, 85, 80, 75, 70)]
    assert len(set(images)) == 6
    refused(check, live_frames(check, images=images), msg.MSG_SAME_FRAMES)


def test_one_repeated_pair_among_good_frames(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    images = good_images(5)
    images.append(images[1])
    refused(check, live_frames(check, images=images), msg.MSG_SAME_FRAMES)


@pytest.mark.parametrize("colour", [(0, 0, 0), (128, 128, 128), (255, 255, 255)],
                         ids=["black", "grey", "white"])
def test_a_blank_frame(app, factory, colour):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    images = good_images()
    images[3] = blank_image(colour=colour)
    refused(check, live_frames(check, images=images),
            "画面过暗或被遮挡，未检测到人脸，请在光线充足处正对屏幕重试")


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\x00" * 64,
                                  b"GIF89a" + b"\x00" * 100],
                         ids=["empty", "text", "broken-jpeg", "gif-header"])
def test_an_undecodable_frame(app, factory, data):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    images = good_images()
    images[0] = data
    refused(check, live_frames(check, images=images), "采集的画面无法识别，请重新识别")


def test_a_huge_frame_by_size(app, factory):
    person = factory.person()
    side = rules(person).frame_max_side + 1
    check = face.begin(person, BINDING, "/")
    images = good_images()
    images[2] = jpeg(Image.new("RGB", (side, 80), (10, 200, 90)))
    refused(check, live_frames(check, images=images), "采集的画面尺寸或文件过大，请重新识别")


def test_a_huge_frame_by_bytes(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    images = good_images()
    images[4] = images[4] + b"\x00" * rules(person).frame_max_bytes
    refused(check, live_frames(check, images=images), msg.MSG_FRAME_TOO_LARGE)


def test_a_tiny_frame(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    images = good_images()
    images[5] = face_image(size=(40, 40), fmt="JPEG")
    refused(check, live_frames(check, images=images), "采集的画面太小，请正对屏幕重新识别")


def test_frames_for_other_actions_or_out_of_order(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    first, second = face.actions_of(check)
    good = live_frames(check)
    swapped = [Frame(f.data, second if f.action == first else first, f.at_ms) for f in good]
    refused(check, swapped, "未按提示顺序完成动作，请重新识别")
    other = face.begin(person, BINDING, "/")
    unasked = next(a for a in ACTIONS if a not in face.actions_of(other))
    frames = live_frames(other)
    frames[-1] = Frame(frames[-1].data, unasked, frames[-1].at_ms)
    refused(other, frames, msg.MSG_WRONG_ACTIONS)


def test_an_action_with_too_few_frames(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    first, second = face.actions_of(check)
    frames = live_frames(check, per_action=4)  # 8 frames, then relabel: 7 for one, 1 for the other
    frames = [Frame(f.data, first if i < 7 else second, f.at_ms) for i, f in enumerate(frames)]
    refused(check, frames, msg.MSG_WRONG_ACTIONS)


@pytest.mark.parametrize(("gap_ms", "message"), [
    (100, "动作完成得太快，请按提示逐个完成动作"),
    (10_000, "动作用时过长，请重新识别"),
], ids=["too-fast", "too-slow"])
def test_the_claimed_time_span(app, factory, gap_ms, message):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    refused(check, live_frames(check, gap_ms=gap_ms), message)


def test_times_must_increase(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    frames = live_frames(check)
    frames[3] = Frame(frames[3].data, frames[3].action, frames[2].at_ms)
    refused(check, frames, "画面时间信息无效，请重新识别")
    check = face.begin(person, BINDING, "/")
    frames = live_frames(check)
    frames[0] = Frame(frames[0].data, frames[0].action, -1)
    refused(check, frames, msg.MSG_BAD_TIMES)


# --- the attempt: single use, its person, expiry ----------------------------------------------

def test_a_replayed_attempt_is_refused(app, factory):
    person = factory.person()
    check = pass_live(person, BINDING)
    face.consume(person, BINDING)
    db.session.commit()
    refused(check, live_frames(check), "本次人脸识别已结束，请重新识别")


def test_a_failed_attempt_cannot_be_retried(app, factory):
    person = factory.person()
    check = face.begin(person, BINDING, "/")
    refused(check, live_frames(check)[:2], msg.MSG_FEW_FRAMES)
    refused(check, live_frames(check), msg.MSG_NOT_PENDING)


def test_another_users_attempt_is_refused_by_the_service(app, factory):
    mine, theirs = factory.user(), factory.user(name="李四")
    check = face.begin(mine.person, BINDING, "/")
    refused(check, live_frames(check), "该人脸识别请求不属于当前账号，请返回重新操作",
            actor=Actor(user=theirs, ip="127.0.0.1"))
    db.session.expire_all()
    assert db.session.get(FaceCheck, check.id).result == "pending"


def test_another_users_attempt_is_404_even_from_a_session_holding_it(app, client, factory):
    mine, theirs = factory.user(), factory.user(name="李四")
    check = face.begin(mine.person, BINDING, "/")
    login(client, theirs)
    own(client, check)
    assert client.get(f"/face/{check.public_id}").status_code == 404
    response = post_live(client, check)
    assert response.status_code == 404
    assert "该人脸识别请求不存在或已失效" in response.get_data(as_text=True)
    assert not face.has_pass(mine.person, BINDING)
    # Its own person, logged in, may use it.
    login(client, mine)
    assert post_live(client, check).status_code == 302
    assert face.has_pass(mine.person, BINDING)


def test_an_expired_attempt_is_refused(app, factory):
    person = factory.person()
    start = clock.now()
    clock.freeze(start)
    check = face.begin(person, BINDING, "/")
    clock.freeze(start + timedelta(seconds=rules(person).attempt_valid_seconds + 1))
    refused(check, live_frames(check), "本次人脸识别已超时，请重新识别")


def test_an_attempt_within_its_validity_passes(app, factory):
    person = factory.person()
    start = clock.now()
    clock.freeze(start)
    check = face.begin(person, BINDING, "/")
    clock.freeze(start + timedelta(seconds=rules(person).attempt_valid_seconds))
    face.submit_live(check, check.nonce, live_frames(check), ACTOR)
    assert check.result == "passed"


def test_a_pass_is_for_the_purpose_of_its_attempt(app, factory):
    person = factory.person()
    pass_live(person, "register")
    with pytest.raises(DomainError, match="请先完成人脸识别"):
        face.consume(person, BINDING)


# --- the photo fallback ------------------------------------------------------------------------

def test_photo_fallback_refused_for_binding(app, client, factory):
    """The photo fallback never authorises a binding: refused by the server, recorded."""
    user = factory.user()
    login(client, user)
    check = face.begin(user.person, BINDING, "/family/add/notice")
    own(client, check)
    page = client.get(f"/face/{check.public_id}").get_data(as_text=True)
    assert "上传照片识别" not in page and 'type="file"' not in page
    assert "不支持上传照片" in page
    response = post_image(client, check, face_image())
    assert response.status_code == 200
    assert "该操作须通过摄像头完成动作检测，不支持上传照片" in response.get_data(as_text=True)
    assert not face.has_pass(user.person, BINDING)
    db.session.expire_all()
    stored = db.session.get(FaceCheck, check.id)
    assert (stored.result, stored.method) == ("failed", "photo")
    fail = db.session.scalars(select(AuditLog).filter_by(action="face_check.fail")).one()
    assert "photo_refused" in json.dumps(fail.detail)


@pytest.mark.parametrize("purpose", ["kinship_accept", "invitation_accept", "aid_create",
                                     "aid_accept", "aid_join", "kinship_edit"])
def test_photo_fallback_refused_for_every_binding_and_aid_purpose(app, factory, purpose):
    person = factory.person()
    check = face.begin(person, purpose, "/")
    with pytest.raises(DomainError) as err:
        face.submit_photo(check, check.nonce, face_image(), ACTOR)
    assert err.value.message == msg.MSG_PHOTO_REFUSED
    assert not face.has_pass(person, purpose)


def test_photo_fallback_refused_for_the_aid_invitation_json(client, factory):
    user = factory.user()
    login(client, user)
    check = face.begin(user.person, "aid_accept", "/")
    own(client, check)
    response = post_image(client, check, face_image(), json=True)
    assert response.status_code == 422
    assert response.get_json()["error"] == "该操作须通过摄像头完成动作检测，不支持上传照片"
    assert not face.has_pass(user.person, "aid_accept")


def test_photo_fallback_allowed_where_the_policy_allows_it(app, client, factory):
    person = factory.person()
    assert "register" in rules(person).photo_fallback
    check = face.begin(person, "register", "/auth/register/complete")
    own(client, check)
    assert "上传照片识别" in client.get(f"/face/{check.public_id}").get_data(as_text=True)
    response = post_image(client, check, face_image())
    assert response.headers["Location"] == "/auth/register/complete"
    assert face.has_pass(person, "register")


def test_a_purpose_the_policy_does_not_name_gets_no_photo(app, factory):
    person = factory.person()
    check = face.begin(person, "something_new", "/")
    assert not face.photo_allowed(check)
    with pytest.raises(DomainError, match="不支持上传照片"):
        face.submit_photo(check, check.nonce, face_image(), ACTOR)


def test_the_region_profile_decides_the_fallback_and_the_numbers(app, factory, tmp_path):
    raw = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    raw["regions"]["360000"]["face"] = {"photo_fallback": [], "frames_per_action": 2}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    app.extensions["policy"] = load_policy(path)
    jiangxi, beijing = factory.person(region="360102"), factory.person(name="李四", region="110101")
    check = face.begin(jiangxi, "register", "/")
    with pytest.raises(DomainError, match="不支持上传照片"):
        face.submit_photo(check, check.nonce, face_image(), ACTOR)
    check = face.begin(jiangxi, BINDING, "/")
    face.submit_live(check, check.nonce, live_frames(check, per_action=2, gap_ms=600), ACTOR)
    assert check.result == "passed"
    other = face.begin(beijing, BINDING, "/")
    refused(other, live_frames(other, per_action=2, gap_ms=600), msg.MSG_FEW_FRAMES)


# --- the policy file --------------------------------------------------------------------------

def _write(tmp_path, mutate) -> str:
    raw = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("purpose", sorted(PHOTO_NEVER))
def test_a_policy_allowing_a_photo_for_a_binding_is_refused(tmp_path, purpose):
    def mutate(raw):
        raw["regions"]["320000"]["face"] = {"photo_fallback": ["register", purpose]}

    with pytest.raises(PolicyError, match=f"regions.320000.face.photo_fallback must not allow a "
                                          f"photo for '{purpose}'"):
        load_policy(_write(tmp_path, mutate))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("actions", ["blink", "nod"], "has unknown face action code 'nod'"),
    ("actions_per_check", 5, "actions_per_check must not exceed the number of actions"),
    ("max_frames", 5, "max_frames must be at least actions_per_check × frames_per_action"),
    ("max_span_ms", 1000, "max_span_ms must be more than min_span_ms"),
    ("frame_max_side", 9000, "frame_max_side must lie between min_side and max_side"),
    ("min_stddev", -1, "min_stddev must be an integer >= 0"),
    ("photo_fallback", "register", "photo_fallback must be a list"),
])
def test_bad_face_rules_name_the_key(tmp_path, key, value, message):
    def mutate(raw):
        raw["default"]["face"][key] = value

    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, mutate))


def test_shipped_face_rules(app):
    rules_ = policy_for("110101").face
    assert rules_.actions == ("blink", "open_mouth", "turn_left", "turn_right")
    assert (rules_.actions_per_check, rules_.frames_per_action, rules_.min_frames) == (2, 3, 6)
    assert rules_.photo_fallback == ("register", "login")
    assert not set(rules_.photo_fallback) & PHOTO_NEVER
    assert [ACTIONS[a][0] for a in rules_.actions] == ["眨眼", "张嘴", "左转", "右转"]


# --- the route with what a broken or hostile client might post -------------------------------

@pytest.mark.parametrize("form", [
    {"frame_ms": []},
    {"frame_action": []},
    {"frame_ms": ["x", "１２", "-5", "9" * 40, "", "1e3"]},
], ids=["no-times", "no-actions", "bad-times"])
def test_malformed_frame_fields_are_refused_in_chinese(client, factory, form):
    user = factory.user()
    login(client, user)
    check = face.begin(user.person, BINDING, "/")
    own(client, check)
    frames = live_frames(check)
    data = {"nonce": check.nonce,
            "frame": [(io.BytesIO(f.data), "f.jpg") for f in frames],
            "frame_action": [f.action for f in frames],
            "frame_ms": [str(f.at_ms) for f in frames], **form}
    response = refused_page(client, client.post(f"/face/{check.public_id}", data=data,
                           headers={"Accept": "application/json"},
                           content_type="multipart/form-data"))
    assert response.status_code == 422
    assert response.get_json()["error"] in {msg.MSG_BAD_TIMES, msg.MSG_WRONG_ACTIONS}
    assert not face.has_pass(user.person, BINDING)


def test_undecodable_frames_through_the_route(client, factory):
    user = factory.user()
    login(client, user)
    check = face.begin(user.person, BINDING, "/")
    own(client, check)
    frames = [Frame(b"\x00garbage" * (i + 1), f.action, f.at_ms)
              for i, f in enumerate(live_frames(check))]
    response = post_live(client, check, frames, json=True)
    assert response.status_code == 422
    assert response.get_json()["error"] == "采集的画面无法识别，请重新识别"
