"""What each 亲情账户 event tells both sides: one table (event → title/body per side) and one
helper that sends them.

Bodies are ``str.format`` templates; every notice may use ``{holder}`` and ``{member}`` (masked
names) and ``{relation}`` (the relation's label); some need more words (``{due}``, ``{age}``,
``{until}``, ``{what}``, ``{review_due}``, ``{reason}``), passed to ``send``. An event whose
words depend on who acted has one row per side, keyed ``event.role`` (e.g. ``end.member``). The keys are the events of
``webapp.kinship.states.TRANSITIONS`` (``created.<state>`` for a new binding).
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.invitations.models import Invitation
from webapp.kinship.models import KinshipBinding
from webapp.kinship.states import BindingStatus
from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.policy import relation_label

# Where a message links to (see ``link``).
MEMBER_PAGE, FAMILY, BOUND_ME, INVITATION, REVIEW, NONE = (
    "member", "family", "bound_me", "invitation", "review", "")


@dataclass(frozen=True)
class Notice:
    """The message to each side of a binding for one event."""

    holder: tuple[str, str]
    member: tuple[str, str]
    category: str = "binding"
    holder_link: str = MEMBER_PAGE
    member_link: str = BOUND_ME


_WHO = "{member}（{relation}）"

NOTICES: dict[str, Notice] = {
    # A new binding (webapp.kinship.services.complete_binding), by its first state.
    f"created.{BindingStatus.ACTIVE}": Notice(
        ("已添加家庭成员", f"您已将{_WHO}添加为亲情账户家庭成员，现在可以代其出示医保码。"),
        ("您已被添加为亲情账户家庭成员",
         "{holder}已将您添加为其亲情账户家庭成员（关系：{relation}），可代您出示医保码。"
         "如有疑问，可在“绑定我的人”中解除绑定。"),
        holder_link=FAMILY, member_link=FAMILY),
    f"created.{BindingStatus.PENDING_REVIEW}": Notice(
        ("家庭成员添加申请已提交", f"您添加{_WHO}的申请已提交，证明材料将在{{review_due}}前审核完成。"),
        ("有人申请将您添加为亲情账户家庭成员",
         "{holder}申请将您添加为其亲情账户家庭成员（关系：{relation}），材料审核中。"),
        category="review", holder_link=FAMILY, member_link=FAMILY),
    f"created.{BindingStatus.PENDING_CONFIRM}": Notice(
        ("已向{member}发送邀请", f"请将邀请链接发给{_WHO}，对方本人确认后绑定生效。"),
        ("{holder}邀请您成为亲情账户家庭成员",
         "{holder}邀请您成为其亲情账户家庭成员（关系：{relation}）。"
         "请打开对方发给您的邀请链接，完成人脸识别后确认或拒绝。"),
        category="invitation", holder_link=FAMILY, member_link=FAMILY),
    # The relative answers.
    "accept": Notice(
        ("{member}已同意绑定", f"{_WHO}已确认亲情账户绑定，您现在可以代其出示医保码。"),
        ("您已确认亲情账户绑定",
         "您已同意{holder}代您出示医保码，费用由您本人的医保账户支付。"
         "如需解除，可在“绑定我的人”中操作。")),
    "decline": Notice(
        ("{member}拒绝了绑定邀请", f"{_WHO}拒绝了您的亲情账户绑定邀请，绑定未生效。"),
        ("您已拒绝绑定邀请", "您已拒绝{holder}的亲情账户绑定邀请。")),
    "self_confirm": Notice(
        ("{member}已本人确认绑定", f"{_WHO}已本人确认亲情账户绑定，绑定继续有效。"),
        ("您已确认亲情账户绑定",
         "您已本人确认{holder}的亲情账户绑定，对方可继续代您出示医保码。"
         "如需解除，可在“绑定我的人”中操作。")),
    "refuse_self_confirm": Notice(
        ("{member}未同意继续绑定",
         f"{_WHO}本人未同意继续亲情账户绑定，绑定已解除，您已不能代其出示医保码。"),
        ("您已解除亲情账户绑定", "您未同意继续{holder}的亲情账户绑定，绑定已解除。")),
    # Ending and withdrawing.
    "end.holder": Notice(
        ("已解除与{member}的绑定", f"您已解除与{_WHO}的亲情账户绑定，已不能代其出示医保码。"),
        ("{holder}已解除与您的绑定", "{holder}已解除与您的亲情账户绑定，对方已不能代您出示医保码。")),
    "end.member": Notice(
        ("{member}已解除与您的绑定",
         f"{_WHO}已在“绑定我的人”中解除亲情账户绑定，您已不能代其出示医保码。"),
        ("您已解除与{holder}的绑定", "您已解除与{holder}的亲情账户绑定，对方已不能代您出示医保码。")),
    "end.system": Notice(
        ("与{member}的绑定已解除", f"您与{_WHO}的亲情账户绑定已解除。"),
        ("亲情账户绑定已解除", "{holder}与您的亲情账户绑定已解除。")),
    "withdraw": Notice(
        ("已撤回对{member}的{what}", "您已撤回添加{member}（{relation}）为家庭成员的{what}。"),
        ("{holder}已撤回{what}", "{holder}已撤回将您添加为亲情账户家庭成员的{what}。")),
    "refuse_review": Notice(
        ("{member}拒绝了添加申请", f"{_WHO}拒绝了您将其添加为亲情账户家庭成员的申请，绑定未生效。"),
        ("您已拒绝添加申请", "您已拒绝{holder}将您添加为亲情账户家庭成员的申请。")),
    # The holder edits an 已绑定 binding (webapp.kinship.edit); {what} lists the changes.
    "edit": Notice(
        ("已修改{member}的绑定信息", f"您已修改与{_WHO}的亲情账户绑定信息：{{what}}。"),
        ("{holder}修改了与您的绑定信息",
         "{holder}修改了亲情账户中您的信息：{what}（您是对方的{relation}）。"
         "如有疑问，可在“绑定我的人”中解除绑定。")),
    # Invitations.
    "resend": Notice(
        ("已重新发送邀请", f"已为{_WHO}生成新的邀请链接，原链接已失效。新链接{{until}}前有效。"),
        ("{holder}再次邀请您确认亲情账户绑定",
         "{holder}重新发送了亲情账户绑定邀请（您是对方的{relation}），"
         "请在{until}前完成人脸识别并确认或拒绝。"),
        category="invitation", member_link=INVITATION),
    "expire": Notice(
        ("邀请已过期", f"您邀请{_WHO}的链接已过期，对方未确认，绑定未生效。如需绑定，请重新添加。"),
        ("绑定邀请已过期", "{holder}邀请您成为亲情账户家庭成员的链接已过期，绑定未生效。")),
    # Turning 16.
    "ask_self_confirm": Notice(
        ("{member}已满{age}周岁，需本人确认",
         f"{_WHO}已年满{{age}}周岁，需在{{due}}前本人确认亲情账户绑定。确认前您仍可代其出示医保码；"
         "逾期未确认，绑定将自动解除。您可以在家庭成员详情中重新发送邀请链接给对方。"),
        ("请确认亲情账户绑定",
         "您已年满{age}周岁。{holder}为您绑定的亲情账户需要您本人确认，"
         "请在{due}前登录并完成人脸识别后确认；逾期未确认，绑定将自动解除。"),
        category="invitation", member_link=INVITATION),
    "lapse": Notice(
        ("与{member}的绑定已自动解除",
         f"{_WHO}未在{{due}}前本人确认，亲情账户绑定已自动解除，您已不能代其出示医保码。"
         "如需继续，请重新添加。"),
        ("亲情账户绑定已自动解除", "您未在{due}前确认{holder}的亲情账户绑定，绑定已自动解除。")),
    # Material review (webapp.review may send these).
    "approve": Notice(
        ("家庭成员审核通过，已绑定", f"您添加{_WHO}的申请已审核通过，已绑定。现在可以代其出示医保码。"),
        ("您已被添加为亲情账户家庭成员",
         "{holder}添加您为亲情账户家庭成员的申请已审核通过（关系：{relation}），可代您出示医保码。"),
        category="review", holder_link=REVIEW, member_link=NONE),
    "reject": Notice(
        ("家庭成员审核未通过",
         f"您添加{_WHO}的申请未通过审核。原因：{{reason}}。您可以上传新的证明材料后重新提交。"),
        ("亲情账户添加申请未通过", "{holder}添加您为亲情账户家庭成员的申请未通过审核。"),
        category="review", holder_link=REVIEW, member_link=NONE),
}


def notice_for(key: str, role: str | None = None) -> Notice:
    """The notice of an event, the acting side's row first (``end.member``)."""
    return NOTICES.get(f"{key}.{role}") or NOTICES[key]


def link(kind: str, binding: KinshipBinding, invitation: Invitation | None = None) -> str:
    """A site-relative link of a kind for a message about the binding."""
    if kind == MEMBER_PAGE:
        return messages.page("family.member", public_id=binding.public_id)
    if kind == FAMILY:
        return messages.page("family.index")
    if kind == BOUND_ME:
        return messages.page("family.bound_me")
    if kind == REVIEW:
        return messages.page("review.application", public_id=binding.public_id)
    if kind == INVITATION and invitation is not None:
        return messages.page("invite.view", public_id=invitation.public_id)
    return ""


def names(binding: KinshipBinding) -> dict[str, str]:
    """The words every notice may use: masked holder and member, the relation's label."""
    return {"holder": mask_name(binding.holder.name), "member": mask_name(binding.member.name),
            "relation": relation_label(binding.relation)}


def send(binding: KinshipBinding, key: str, role: str | None = None,
         invitation: Invitation | None = None, **words: object) -> None:
    """Queue the event's message to the holder and to the member (the caller commits)."""
    notice = notice_for(key, role)
    values = {**names(binding), **words}
    for person, (title, body), where in ((binding.holder, notice.holder, notice.holder_link),
                                         (binding.member, notice.member, notice.member_link)):
        messages.send(person, title.format(**values), body.format(**values),
                      category=notice.category, link=link(where, binding, invitation))
