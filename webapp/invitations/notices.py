"""What an invitation page says when it cannot be used: one table, code → title and message.

The codes are the ``DomainError.code`` the invitation services raise; each has its own page
(404/410/403). An invitation that is no longer 待处理 is refused with its state as the code
(``InvitationStatus.EXPIRED`` …). ``target_gone`` and ``face_required`` carry the message of
the flow / face check.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.invitations.states import InvitationStatus


@dataclass(frozen=True)
class Refusal:
    """Title, message and hint of a refusal page (a hint naming ``{inviter}`` is shown only
    when the inviter is known)."""

    title: str
    message: str
    hint: str = ""
    icon: str = "warn"

    def hint_for(self, inviter: str | None) -> str:
        """The hint, with the inviter's masked name filled in ('' when it needs one)."""
        if "{inviter}" in self.hint:
            return self.hint.format(inviter=inviter) if inviter else ""
        return self.hint


_OTHER_ACCOUNT = "请退出当前账号后重新打开邀请链接，并用被邀请人本人的账号登录或注册。"

REFUSALS: dict[str, Refusal] = {
    "unknown": Refusal("邀请链接无效", "邀请链接无效", "请确认链接完整无误，或联系邀请人重新发送。"),
    InvitationStatus.EXPIRED: Refusal("邀请已过期", "邀请已过期，请联系邀请人重新发送",
                       "邀请链接的有效期已过。请联系邀请人 {inviter}，在“亲情账户”中重新发送邀请。"),
    InvitationStatus.USED: Refusal("邀请已处理", "该邀请已处理",
                    "每条邀请链接只能使用一次。如需查看或解除绑定，请在“家庭 › 绑定我的人”中操作。",
                    icon="info"),
    InvitationStatus.REVOKED: Refusal("邀请已撤回", "邀请已被撤回",
                       "邀请人 {inviter} 已撤回或更换了这条邀请链接，请以对方最新发送的链接为准。"),
    "target_gone": Refusal("邀请已失效", "邀请已失效"),
    "wrong_person": Refusal("不是发给您的邀请",
                            "该邀请不是发给您的，请使用被邀请人本人的账号登录", _OTHER_ACCOUNT),
    "staff": Refusal("请使用参保人账号",
                     "工作人员账号不能接受家人邀请，请退出后使用被邀请人本人的参保人账号登录",
                     _OTHER_ACCOUNT),
    "face_required": Refusal("请先完成人脸识别", "请先完成人脸识别"),
    "not_inviter": Refusal("只有邀请人可以操作", "只有邀请人可以操作该邀请"),
}

# Codes whose page names the inviter; codes whose page offers to log out.
NAMES_INVITER = frozenset({InvitationStatus.EXPIRED, InvitationStatus.USED,
                           InvitationStatus.REVOKED, "target_gone"})
OFFERS_LOGOUT = frozenset({"wrong_person", "staff"})



def refusal(code: str) -> Refusal:
    """The refusal of a code (an unknown code is an invalid link)."""
    return REFUSALS.get(code, REFUSALS["unknown"])


def message(code: str) -> str:
    """The message of a code."""
    return refusal(code).message
