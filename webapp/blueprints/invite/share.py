"""What an inviter passes on to a relative: the link, its QR, and a text to paste into WeChat.

One place for the 亲情账户 wizard, a re-sent 亲情账户 invitation and a 家庭共济 invitation.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from markupsafe import Markup

from webapp.qr import link_svg


@dataclass(frozen=True)
class InviteShare:
    """The link, its QR code and the text to paste."""

    link: str
    qr: Markup
    text: str


def invite_share(token: str, invitation: str) -> InviteShare:
    """The share for an invitation token; ``invitation`` is the sentence that says who invites
    to what ('张建国邀请您加入其医保家庭共济')."""
    link = url_for("invite.show", token=token, _external=True)
    text = f"{invitation}，请在手机浏览器中打开链接，登录后完成人脸识别并确认：{link}"
    return InviteShare(link, link_svg(link), text)
