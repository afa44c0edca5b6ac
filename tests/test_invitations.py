"""Invitation links: token storage, the distinct refusals (each changes nothing), accepting
through the real face check, declining, revoking, resending, staff, rate limit, dispatcher."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from tests import kinship_factories as kf
from tests import lifecycle_factories as lf
from tests.helpers import refused_page
from tests.test_face import post_live
from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import DomainError, Forbidden, NotFound
from webapp.extensions import db, limiter
from webapp.invitations import services as invitations
from webapp.invitations.services import InvitationGone
from webapp.models import AuditLog, FaceCheck, Invitation, KinshipBinding, Message

T0 = datetime(2026, 3, 10, 2, 0)  # 10:00 in China


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def family(factory):
    """A holder (张建伟, 40) who invited his mother (张秀英, 65, with her own account); the
    clock stays frozen at the moment of the invitation (tests move it)."""
    clock.freeze(T0)
    holder = factory.user(name="张建伟", age=40)
    mother = factory.user(name="张秀英", age=65, male=False)
    b, inv, token = lf.invited(holder.person, mother.person, "parent")
    return holder, mother, b, inv, token


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- the service ---------------------------------------------------------------------------

def test_only_the_hash_is_stored_and_validity_comes_from_policy(family):
    holder, mother, b, inv, token = family
    assert len(token) >= 43
    assert inv.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(lf.snapshot())
    assert inv.expires_at == T0 + timedelta(hours=72)
    assert (inv.kind, inv.target_id) == ("kinship", b.id)
    assert (inv.inviter_person_id, inv.invitee_person_id) == (holder.person.id, mother.person.id)


def test_load_gives_a_distinct_error_per_state(family):
    holder, mother, b, inv, token = family
    with pytest.raises(NotFound, match="邀请链接无效"):
        invitations.load("no-such-token")
    with pytest.raises(NotFound, match="邀请链接无效"):
        invitations.load("x" * 500)
    with clock.frozen_at(T0 + timedelta(hours=72)):
        with pytest.raises(InvitationGone, match="邀请已过期，请联系邀请人重新发送"):
            invitations.load(token)
    with clock.frozen_at(T0 + timedelta(hours=71, minutes=59)):
        assert invitations.load(token).id == inv.id
        invitations.revoke(inv, holder.person, lf.ACTOR)
        db.session.commit()
        with pytest.raises(InvitationGone, match="邀请已被撤回") as err:
            invitations.load(token)
    assert err.value.status == 410


def test_claim_happens_once(family):
    holder, mother, b, inv, token = family
    with clock.frozen_at(T0 + timedelta(hours=1)):
        invitations.claim(inv, "declined", lf.ACTOR)
        db.session.commit()
        with pytest.raises(InvitationGone, match="该邀请已处理"):
            invitations.claim(inv, "accepted", lf.ACTOR)
        db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Invitation, inv.id).outcome == "declined"


def test_only_the_inviter_may_revoke_or_resend(family, factory):
    holder, mother, b, inv, token = family
    stranger = factory.person(name="李四")
    with pytest.raises(Forbidden):
        invitations.revoke(inv, stranger, lf.ACTOR)
    with pytest.raises(Forbidden):
        invitations.resend(inv, stranger, lf.ACTOR)
    with pytest.raises(Forbidden, match="该邀请不是发给您的"):
        invitations.check_invitee(inv, stranger)


def test_accept_with_the_raw_token_as_the_audit_trail_does(family):
    holder, mother, b, inv, token = family
    with clock.frozen_at(T0 + timedelta(hours=2)):
        kf.face_pass(mother.person, purpose="kinship_accept")
        invitations.accept(token, mother, Actor(user=mother, ip="127.0.0.1"))
    db.session.expire_all()
    binding = db.session.get(KinshipBinding, b.id)
    assert binding.status == "active" and binding.bound_at == T0 + timedelta(hours=2)


def test_accept_needs_a_face_pass_and_changes_nothing_without(family):
    holder, mother, b, inv, token = family
    before = lf.snapshot()
    with pytest.raises(DomainError, match="请先完成人脸识别"):
        invitations.accept(token, mother, lf.ACTOR)
    assert lf.snapshot() == before


# --- the pages: every refusal has its page and changes nothing -----------------------------

def _expired(family, client, factory):
    clock.freeze(T0 + timedelta(hours=73))
    return family[4], 410, "邀请已过期，请联系邀请人重新发送"


def _used(family, client, factory):
    holder, mother, b, inv, token = family
    kf.face_pass(mother.person, purpose="kinship_accept")
    invitations.accept(token, mother, lf.ACTOR)
    return token, 410, "该邀请已处理"


def _revoked(family, client, factory):
    holder, mother, b, inv, token = family
    invitations.revoke(inv, holder.person, lf.ACTOR)
    db.session.commit()
    return token, 410, "邀请已被撤回"


def _unknown(family, client, factory):
    return "AbCdEf0123456789-not-a-real-token_xyzXYZ0123", 404, "邀请链接无效"


def _wrong_person(family, client, factory):
    lf.login(client, factory.user(name="王五", age=50))
    return family[4], 403, "该邀请不是发给您的，请使用被邀请人本人的账号登录"


def _holder_opens_own_link(family, client, factory):
    lf.login(client, family[0])
    return family[4], 403, "该邀请不是发给您的"


def _staff(family, client, factory):
    lf.login(client, factory.staff(role="pharmacy"))
    return family[4], 403, "工作人员账号不能接受家人邀请"


BAD = {"expired": _expired, "used": _used, "revoked": _revoked, "unknown": _unknown,
       "wrong_person": _wrong_person, "holder": _holder_opens_own_link, "staff": _staff}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_link_gets_its_page_and_changes_nothing(app, client, factory, family, case):
    holder, mother, b, inv, token = family
    token, status, message = BAD[case](family, client, factory)
    if case not in ("wrong_person", "holder", "staff"):
        lf.login(client, mother)  # even the right person cannot use it
    before = lf.snapshot()
    page = client.get(f"/i/{token}")
    assert page.status_code == status
    assert message in html(page)
    assert "同意并进行人脸识别" not in html(page)
    # Posting the answers directly changes nothing either.
    public_id = "AbCdEfGhIjKlMnOp" if case == "unknown" else inv.public_id
    for action in ("accept", "confirm", "decline"):
        response = refused_page(client, client.post(f"/i/r/{public_id}/{action}"))
        assert response.status_code in (403, 404, 410), (action, response.status_code)
    assert lf.snapshot() == before


def test_expired_page_names_the_inviter_to_ask(client, family):
    holder, mother, b, inv, token = family
    lf.login(client, mother)
    with clock.frozen_at(T0 + timedelta(days=4)):
        text = html(client.get(f"/i/{token}"))
    assert "请联系邀请人 张*伟" in text and "张建伟" not in text


def test_public_id_pages_are_only_for_the_invitee(client, factory, family):
    holder, mother, b, inv, token = family
    lf.login(client, factory.user(name="王五", age=50))
    before = lf.snapshot()
    for path in ("", "/confirm", "/done"):
        assert client.get(f"/i/r/{inv.public_id}{path}").status_code == 404
    assert refused_page(client, client.post(f"/i/r/{inv.public_id}/accept")).status_code == 404
    assert lf.snapshot() == before
    lf.logout(client)
    response = client.get(f"/i/r/{inv.public_id}")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# --- the offer page ------------------------------------------------------------------------

def test_anonymous_visitor_sees_the_offer_and_login_register_with_next(client, family):
    holder, mother, b, inv, token = family
    with clock.frozen_at(T0 + timedelta(hours=1)):
        text = html(client.get(f"/i/{token}"))
    assert "亲情账户绑定邀请" in text
    assert "张*伟" in text and "张建伟" not in text
    assert "您是张*伟的父母" in text
    assert "张*英" in text and "张秀英" not in text
    assert "可以在就医、购药时代您出示医保码" in text
    assert "费用由您本人的医保账户支付" in text
    assert "绑定我的人" in text
    assert "2026-03-13 10:00" in text  # 72 h later, China time
    links = {unquote(h) for h in re.findall(r'href="(/auth/[^"]+)"', text)}
    assert f"/auth/login?next=/i/{token}" in links
    assert f"/auth/register?next=/i/{token}" in links
    assert "同意并进行人脸识别" not in text


def test_invitee_sees_accept_and_decline(client, family):
    holder, mother, b, inv, token = family
    lf.login(client, mother)
    text = html(client.get(f"/i/{token}"))
    assert "同意并进行人脸识别" in text and "拒绝" in text
    assert "张秀英" in text  # her own name, unmasked
    assert f'action="/i/r/{inv.public_id}/accept"' in text
    assert f'action="/i/r/{inv.public_id}/decline"' in text


def test_login_with_next_returns_to_the_invitation(client, family):
    holder, mother, b, inv, token = family
    response = client.post("/auth/login", data={"phone": mother.phone, "password": "Passw0rd!",
                                                "next": f"/i/{token}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/i/{token}"


# --- accepting through the real face check -------------------------------------------------

def test_accept_through_the_pages_and_the_face_check(client, family):
    holder, mother, b, inv, token = family
    lf.login(client, mother)
    started = refused_page(client, client.post(f"/i/r/{inv.public_id}/accept"))
    assert started.status_code == 302
    face_url = started.headers["Location"]
    assert re.fullmatch(r"/face/[\w-]+", face_url)
    check = db.session.scalar(select(FaceCheck).order_by(FaceCheck.id.desc()))
    assert check.purpose == "kinship_accept"
    assert check.next_url == f"/i/r/{inv.public_id}/confirm"
    assert token not in check.next_url
    assert "确认亲情账户绑定需要验证是本人操作" in html(client.get(face_url))
    passed = post_live(client, check)
    assert passed.headers["Location"] == f"/i/r/{inv.public_id}/confirm"
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).status == "pending_confirm"  # not yet

    confirm_page = html(client.get(f"/i/r/{inv.public_id}/confirm"))
    assert "人脸识别已通过" in confirm_page and "确认同意" in confirm_page
    done = refused_page(client, client.post(f"/i/r/{inv.public_id}/confirm"))
    assert done.headers["Location"] == f"/i/r/{inv.public_id}/done"
    assert "您已同意张*伟的邀请" in html(client.get(done.headers["Location"]))

    db.session.expire_all()
    binding = db.session.get(KinshipBinding, b.id)
    assert binding.status == "active" and binding.bound_at is not None
    invitation = db.session.get(Invitation, inv.id)
    assert invitation.outcome == "accepted" and invitation.used_at is not None
    assert db.session.get(FaceCheck, check.id).consumed_at is not None
    assert lf.titles(holder.person)[-1] == "张*英已同意绑定"
    assert lf.titles(mother.person)[-1] == "您已确认亲情账户绑定"
    assert lf.audit_actions().count("kinship.accepted") == 1
    row = db.session.scalar(select(AuditLog).filter_by(action="kinship.accepted"))
    assert row.actor_user_id == mother.id and row.target_id == b.public_id
    # The link is spent now.
    again = client.get(f"/i/{token}")
    assert again.status_code == 410 and "该邀请已处理" in html(again)


def test_confirm_without_a_pass_goes_back_to_the_face_check(client, family):
    holder, mother, b, inv, token = family
    lf.login(client, mother)
    before = lf.snapshot()
    page = html(client.get(f"/i/r/{inv.public_id}/confirm"))
    assert "请重新进行人脸识别" in page
    response = refused_page(client, client.post(f"/i/r/{inv.public_id}/confirm"))
    assert response.status_code == 302 and response.headers["Location"].startswith("/face/")
    after = lf.snapshot()
    assert after["bindings"] == before["bindings"]
    assert after["invitations"] == before["invitations"]


def test_a_pass_for_another_purpose_does_not_accept(client, family):
    holder, mother, b, inv, token = family
    kf.face_pass(mother.person, purpose="kinship_add")
    lf.login(client, mother)
    refused_page(client, client.post(f"/i/r/{inv.public_id}/confirm"))
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).status == "pending_confirm"


def test_invitation_expiring_before_confirm_changes_nothing(client, family):
    holder, mother, b, inv, token = family
    kf.face_pass(mother.person, purpose="kinship_accept")
    lf.login(client, mother)
    clock.freeze(T0 + timedelta(hours=72, seconds=1))
    kf.face_pass(mother.person, purpose="kinship_accept")
    before = lf.snapshot()
    response = refused_page(client, client.post(f"/i/r/{inv.public_id}/confirm"))
    assert response.status_code == 410 and "邀请已过期" in html(response)
    assert lf.snapshot() == before


# --- declining, revoking, resending --------------------------------------------------------

def test_decline(client, family):
    holder, mother, b, inv, token = family
    lf.login(client, mother)
    response = refused_page(client, client.post(f"/i/r/{inv.public_id}/decline"))
    assert response.headers["Location"] == f"/i/r/{inv.public_id}/done"
    assert "您已拒绝张*伟的邀请" in html(client.get(response.headers["Location"]))
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).status == "declined"
    assert db.session.get(Invitation, inv.id).outcome == "declined"
    assert lf.titles(holder.person)[-1] == "张*英拒绝了绑定邀请"
    assert lf.titles(mother.person)[-1] == "您已拒绝绑定邀请"
    assert lf.audit_actions().count("kinship.declined") == 1
    assert client.get(f"/i/{token}").status_code == 410


def test_holder_revokes_the_invitation(client, family):
    holder, mother, b, inv, token = family
    lf.login(client, holder)
    response = client.post(f"/family/members/{b.public_id}/end")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).status == "ended"
    assert db.session.get(Invitation, inv.id).revoked_at is not None
    assert lf.titles(mother.person)[-1] == "张*伟已撤回邀请"
    lf.login(client, mother)
    page = client.get(f"/i/{token}")
    assert page.status_code == 410 and "邀请已被撤回" in html(page)


def test_resend_kills_the_old_link_and_the_new_one_works(client, family):
    holder, mother, b, inv, token = family
    lf.login(client, holder)
    clock.freeze(T0 + timedelta(hours=60))
    assert client.post(f"/family/members/{b.public_id}/resend").status_code == 302
    page = html(client.get(f"/family/members/{b.public_id}"))
    link = re.search(r'id="invite-link" type="text" value="([^"]+)"', page).group(1)
    new_token = link.rsplit("/i/", 1)[1]
    assert new_token != token
    assert "原链接已失效" in page
    # Shown once only.
    assert 'id="invite-link"' not in html(client.get(f"/family/members/{b.public_id}"))
    new = db.session.scalar(select(Invitation).order_by(Invitation.id.desc()))
    assert new.expires_at == T0 + timedelta(hours=60 + 72)
    assert lf.titles(mother.person)[-1] == "张*伟再次邀请您确认亲情账户绑定"

    lf.login(client, mother)
    old = client.get(f"/i/{token}")
    assert old.status_code == 410 and "邀请已被撤回" in html(old)
    clock.freeze(T0 + timedelta(hours=100))  # past the first link's 72 h, within the new one
    assert "同意并进行人脸识别" in html(client.get(f"/i/{new_token}"))
    kf.face_pass(mother.person, purpose="kinship_accept")
    refused_page(client, client.post(f"/i/r/{new.public_id}/confirm"))
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).status == "active"


def test_the_message_link_opens_the_invitation_for_its_invitee(client, family):
    holder, mother, b, inv, token = family
    lf.login(client, holder)
    client.post(f"/family/members/{b.public_id}/resend")
    lf.login(client, mother)
    message = db.session.scalars(select(Message).filter_by(recipient_person_id=mother.person.id)
                                 .order_by(Message.id.desc())).first()
    assert message.link.startswith("/i/r/")
    assert "同意并进行人脸识别" in html(client.get(message.link))


# --- rate limit ----------------------------------------------------------------------------

def test_answers_are_rate_limited(app, client, family):
    holder, mother, b, inv, token = family
    app.config["RATELIMIT_INVITATION"] = "2 per minute"
    limiter.reset()
    lf.login(client, mother)
    statuses = [refused_page(client, client.post(f"/i/r/{inv.public_id}/accept")).status_code for _ in range(3)]
    assert statuses[-1] == 429, statuses


# --- the dispatcher ------------------------------------------------------------------------

class DemoHandler(invitations.InvitationHandler):
    """A stand-in for 家庭共济: records what happened."""

    kind = "demo"
    face_purpose = "aid_accept"

    def __init__(self):
        self.calls = []

    def offer(self, inv):
        return invitations.Offer(title="家庭共济邀请", inviter="张*伟", relation="您是张*伟的父母",
                                 meaning=("可以使用对方的个人账户余额",))

    def accepted(self, inv, person, actor):
        self.calls.append(("accepted", inv.target_id, person.id))

    def declined(self, inv, person, actor):
        self.calls.append(("declined", inv.target_id, person.id))


def test_another_kind_plugs_into_the_same_pages(client, factory):
    handler = invitations.register_handler(DemoHandler())
    try:
        owner = factory.person(name="张建伟", age=40)
        relative = factory.user(name="张秀英", age=65, male=False)
        inv, token = invitations.create("demo", 42, owner, relative.person, lf.ACTOR)
        db.session.commit()
        lf.login(client, relative)
        text = html(client.get(f"/i/{token}"))
        assert "家庭共济邀请" in text and "可以使用对方的个人账户余额" in text
        started = refused_page(client, client.post(f"/i/r/{inv.public_id}/accept"))
        check = db.session.scalar(select(FaceCheck).order_by(FaceCheck.id.desc()))
        assert check.purpose == "aid_accept" and started.headers["Location"].startswith("/face/")
        post_live(client, check)
        refused_page(client, client.post(f"/i/r/{inv.public_id}/confirm"))
        assert handler.calls == [("accepted", 42, relative.person.id)]
    finally:
        invitations.HANDLERS.pop("demo", None)
