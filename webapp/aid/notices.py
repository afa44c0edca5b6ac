"""家庭共济 words in one place: the notice table (event → message to each side) and the refusal
table (code → the Chinese reason a rule gives).

Every step of ``webapp.aid.states`` names its notice; ``tell(event, owner, member)`` sends
it. The owner's message links the member's page; the member's links 被绑定列表, or the
invitation when the notice is about one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.domain import DomainError
from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.models import AidMember, InsuredPerson, Invitation
from webapp.policy import relation_label


@dataclass(frozen=True)
class Side:
    """One message: title and body (``str.format`` words), its kind and what it links."""

    title: str
    body: str
    kind: str = "aid"
    link: str = "page"  # page: member page / 被绑定列表 · invitation · index: the owner's group


# event → (to the owner, to the member); None = that side is not told.
# Words: who (member, masked), by (owner, masked), label (relation), extra ('（limits）' or ''),
# and what the caller adds (after, until, zero_balance).
NOTICES: dict[str, tuple[Side | None, Side | None]] = {
    "group_created": (Side("家庭共济已开通", "您已开通家庭共济，可以添加近亲属为共济成员。{zero_balance}",
                     link="index"), None),
    "member_added": (
        Side("已添加共济成员", "{who}（{label}）已加入您的家庭共济{extra}，可使用您的"
             "个人账户余额支付其就医购药费用。"),
        Side("您已加入家庭共济", "{by}已将您添加为家庭共济成员（关系：{label}）{extra}。您使用"
             "本人医保码结算时，本人个人账户不足的部分可由对方的个人账户支付。"),
    ),
    "member_invited": (
        Side("已向{who}发送共济邀请", "请将邀请链接发给{who}（{label}），对方本人确认后即可使用"
             "您的个人账户余额。"),
        Side("{by}邀请您加入家庭共济", "{by}邀请您加入其家庭共济（您是对方的{label}）{extra}。"
             "请打开对方发给您的邀请链接，或点此查看，完成人脸识别后确认或拒绝。",
             kind="invitation", link="invitation"),
    ),
    "invitation_resent": (None, Side("{by}再次邀请您加入家庭共济", "{by}重新发送了家庭共济邀请，原链接已"
                          "失效，请在{until}前确认或拒绝。", kind="invitation", link="invitation")),
    "member_joined": (
        Side("{who}已加入家庭共济", "{who}（{label}）已确认加入您的家庭共济，可使用您的"
             "个人账户余额支付其就医购药费用。"),
        Side("您已加入家庭共济", "您已确认加入{by}的家庭共济。使用本人医保码结算时，本人"
             "个人账户不足的部分可由对方的个人账户支付。如需退出，可在“被绑定列表”中操作。"),
    ),
    "invitation_declined": (
        Side("{who}拒绝了共济邀请", "{who}（{label}）拒绝了您的家庭共济邀请。"),
        Side("您已拒绝共济邀请", "您已拒绝{by}的家庭共济邀请。"),
    ),
    "invitation_withdrawn": (
        Side("已撤回共济邀请", "您已撤回对{who}（{label}）的家庭共济邀请。"),
        Side("家庭共济邀请已撤回", "{by}已撤回对您的家庭共济邀请，原邀请链接已失效。"),
    ),
    "invitation_expired": (
        Side("对{who}的共济邀请已过期", "{who}（{label}）未在有效期内确认，邀请已过期。"
             "如需共济，请重新添加。"),
        Side("家庭共济邀请已过期", "{by}的家庭共济邀请已过期。"),
    ),
    "member_removed": (
        Side("已移除共济成员", "您已将{who}（{label}）移出家庭共济，对方已不能使用您的"
             "个人账户余额。"),
        Side("您已被移出家庭共济", "{by}已将您移出其家庭共济，您已不能使用对方的个人账户"
             "余额支付。"),
    ),
    "member_left": (
        Side("{who}已退出家庭共济", "{who}（{label}）已退出您的家庭共济，已不能使用您的"
             "个人账户余额。"),
        Side("您已退出家庭共济", "您已退出{by}的家庭共济，已不能使用对方的个人账户余额支付。"),
    ),
    "window_changed": (
        Side("共济授权已更新", "{who}的共济授权已更新：{after}。"),
        Side("家庭共济授权已更新", "{by}更新了您的共济授权：{after}。"),
    ),
}

# code → why a rule refused ('{…}' words filled by ``refuse``).
REFUSALS: dict[str, str] = {
    "exists": "您已创建家庭共济组",
    "no_group": "您还没有开通家庭共济",
    "owner_type": "仅{types}参保人可以开通家庭共济，居民医保没有个人账户，不能共济",
    "owner_inactive": "您当前未处于参保状态，不能开通家庭共济",
    "agree": "请阅读并勾选同意《家庭共济告知书》",
    "notice": "告知书已更新，请重新阅读并同意",
    "relation": "该地区家庭共济不支持该亲属关系",
    "younger": "{relation}的年龄应小于您的年龄",
    "older": "{relation}的年龄应大于您的年龄",
    "other_province": "共济成员须在同一省份参保",
    "not_found": "未找到该亲属的参保信息，请核对姓名和身份证号",
    "not_insured": "该亲属未处于参保状态，不能加入家庭共济",
    "self": "不能添加本人",
    "duplicate": "该亲属已在您的家庭共济中，请勿重复添加",
    "pick": "请从已绑定的亲情账户家人中选择",
    "max_members": "家庭共济成员已达上限（{limit}人）",
    "max_children": "家庭共济子女成员已达上限（{limit}人）",
    "member_not_found": "该共济成员不存在或您无权查看",
    "target_gone": "该共济邀请已失效",
    "owner_gone": "邀请人当前不能共济，邀请已失效",
    "no_window": "该地区家庭共济不支持设置授权期限",
    "no_cap": "该地区家庭共济不支持设置每月限额",
    "window_start": "授权开始日期不能早于今天",
    "window_past": "授权结束日期不能早于今天",
    "window_order": "授权结束日期不能早于开始日期",
    "cap": "每月限额须大于0",
}


def refusal_text(code: str, **words: Any) -> str:
    """The Chinese reason of a refusal code."""
    return REFUSALS[code].format(**words)


def refuse(code: str, field: str | None = None, error: type[DomainError] = DomainError,
           as_code: str | None = None, **words: Any) -> DomainError:
    """The error to raise for a refusal (``raise refuse("self", field="id_number")``)."""
    return error(refusal_text(code, **words), field=field, code=as_code or code)


def owner_link(member: AidMember) -> str:
    """The owner's page of a member."""
    return messages.page("aid.member", public_id=member.public_id)


def joined_link() -> str:
    """The member's 被绑定列表."""
    return messages.page("aid.joined")


def _link(side: Side, member: AidMember | None, invitation: Invitation | None,
          to_owner: bool) -> str:
    if side.link == "index" or member is None:
        return messages.page("aid.index")
    if side.link == "invitation" and invitation is not None:
        return messages.page("invite.view", public_id=invitation.public_id)
    return owner_link(member) if to_owner else joined_link()


def words_for(owner: InsuredPerson, member: AidMember | None = None,
              limits: str = "", **extra: Any) -> dict[str, Any]:
    """The words a notice may use: who, by, label, extra and what the caller adds."""
    words: dict[str, Any] = {"by": mask_name(owner.name), **extra}
    if member is not None:
        words.update(who=mask_name(member.person.name), label=relation_label(member.relation),
                     extra=f"（{limits}）" if limits else "")
    return words


def tell(event: str, owner: InsuredPerson, member: AidMember | None = None, *,
         invitation: Invitation | None = None, limits: str = "", **extra: Any) -> None:
    """Send the event's notice to each side it names (in the caller's transaction)."""
    to_owner, to_member = NOTICES[event]
    words = words_for(owner, member, limits, **extra)
    if to_owner is not None:
        messages.send(owner, to_owner.title.format(**words), to_owner.body.format(**words),
                      to_owner.kind, _link(to_owner, member, invitation, True))
    if to_member is not None and member is not None:
        messages.send(member.person, to_member.title.format(**words),
                      to_member.body.format(**words), to_member.kind,
                      _link(to_member, member, invitation, False))
