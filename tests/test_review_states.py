"""Review and face-check states as types: labels, pills, the transitions they use, and the
CHECK constraint generated from the face result enum."""

from __future__ import annotations

import pytest

from webapp.domain import Conflict, Forbidden
from webapp.face.models import FaceCheck
from webapp.face.states import TRANSITIONS as FACE
from webapp.face.states import FaceResult, outcome
from webapp.kinship.states import BindingStatus as B
from webapp.review.states import RESUBMIT, Decision, holder_pill, reviewer_pill, step


class Row:
    """Just the status a pill looks at."""

    def __init__(self, status):
        self.status = status


def test_decisions_carry_their_label_and_pill():
    assert (Decision.APPROVE, Decision.APPROVE.label, Decision.APPROVE.kind) == \
        ("approve", "已通过", "ok")
    assert (Decision.REJECT.label, Decision.REJECT.kind) == ("未通过", "bad")


@pytest.mark.parametrize(("status", "reviewer", "decided", "holder"), [
    (B.PENDING_REVIEW, ("待审核", "wait"), ("待审核", "wait"), ("待审核", "wait")),
    (B.REJECTED, ("未通过", "bad"), ("未通过", "bad"), ("未通过", "bad")),
    (B.ACTIVE, ("已通过", "ok"), ("已通过", "ok"), ("已绑定", "ok")),
    (B.ENDED, ("已解除", "off"), ("已通过 · 已解除", "off"), ("已解除", "off")),
    (B.EXPIRED, ("已过期", "off"), ("已通过 · 已过期", "off"), ("已过期", "off")),
])
def test_one_status_to_pill_mapping_for_both_review_pages(status, reviewer, decided, holder):
    """What review/detail.html, review/queue.html and review/application.html each show."""
    pill = reviewer_pill(Row(status))
    assert (pill.label, pill.kind) == reviewer
    pill = reviewer_pill(Row(status), decided=True)
    assert (pill.label, pill.kind) == decided
    pill = holder_pill(Row(str(status)))  # a plain stored string works too
    assert (pill.label, pill.kind) == holder


def test_review_events_come_from_the_binding_transition_table():
    """approve/reject only from 待审核 and only by a reviewer; resubmit only from 未通过."""
    assert step(B.PENDING_REVIEW, Decision.APPROVE).target == B.ACTIVE
    assert step(B.PENDING_REVIEW, Decision.REJECT).target == B.REJECTED
    assert step(B.REJECTED, RESUBMIT).target == B.PENDING_REVIEW
    for status, event in [(B.ACTIVE, Decision.APPROVE), (B.REJECTED, Decision.REJECT),
                          (B.PENDING_REVIEW, RESUBMIT), (B.ENDED, Decision.APPROVE)]:
        with pytest.raises(Conflict):
            step(status, event)


def test_face_results_and_their_table():
    assert FaceResult.values() == ("pending", "passed", "failed")
    assert (FaceResult.PASSED.label, FaceResult.PASSED.kind) == ("已通过", "ok")
    assert outcome(True) == FaceResult.PASSED and outcome(False) == FaceResult.FAILED
    for done in (FaceResult.PASSED, FaceResult.FAILED):
        with pytest.raises(Conflict):
            FACE.step(done, "pass")
    with pytest.raises(Forbidden):
        FACE.step(FaceResult.PENDING, "pass", "reviewer")


def test_face_check_constraint_is_generated_from_the_enum():
    checks = [c for c in FaceCheck.__table__.constraints if getattr(c, "sqltext", None) is not None]
    assert [str(c.sqltext) for c in checks] == ["result in ('pending','passed','failed')"]


def test_face_result_loads_as_the_enum(app, factory):
    """The column loads enum members, so pages can show .label / .kind."""
    from webapp.extensions import db
    from webapp.face import services as face

    person = factory.person()
    check = face.begin(person, "kinship_add", "/")
    db.session.expire_all()
    loaded = db.session.get(FaceCheck, check.id)
    assert loaded.result is FaceResult.PENDING and loaded.result == "pending"


def test_every_review_notice_event_has_its_texts():
    """The notify names of the approve/reject rows and resubmit are keys of the notice table."""
    from webapp.review.notices import NOTICES, texts

    events = {*step(B.PENDING_REVIEW, Decision.APPROVE).notify,
              *step(B.PENDING_REVIEW, Decision.REJECT).notify, RESUBMIT}
    assert events == set(NOTICES)
    to_holder, to_member = texts("reject", who="张*（子女）", relation="子女", holder="李*",
                                 reason="材料不清晰")
    assert to_holder == ("家庭成员审核未通过",
                         "您添加张*（子女）的申请未通过审核。原因：材料不清晰。您可以上传新的证明材料后重新提交。",
                         "review")
    assert to_member[0] == "亲情账户添加申请未通过" and to_member[2] == "binding"
