"""What each review event tells the holder and the relative (one table, event → both sides;
the keys are the events of the binding transition table: approve, reject, resubmit).

Placeholders: ``who`` = masked relative name with the relation, ``relation``, ``holder`` =
masked holder name, ``reason`` = the rejection text, ``due`` = the new deadline.
"""

from __future__ import annotations

from typing import NamedTuple


class Notice(NamedTuple):
    """A message to one side: title and body templates and the message kind."""

    title: str
    body: str
    kind: str


NOTICES: dict[str, tuple[Notice, Notice]] = {
    "approve": (
        Notice("家庭成员审核通过，已绑定",
               "您添加{who}的申请已审核通过，已绑定。现在可以代其出示医保码。", "review"),
        Notice("您已被添加为亲情账户家庭成员",
               "{holder}添加您为亲情账户家庭成员的申请已审核通过（关系：{relation}），"
               "可代您出示医保码。", "binding"),
    ),
    "reject": (
        Notice("家庭成员审核未通过",
               "您添加{who}的申请未通过审核。原因：{reason}。您可以上传新的证明材料后重新提交。",
               "review"),
        Notice("亲情账户添加申请未通过",
               "{holder}添加您为亲情账户家庭成员的申请未通过审核。", "binding"),
    ),
    "resubmit": (
        Notice("已重新提交审核",
               "您添加{who}的申请已重新提交，证明材料将在{due}前审核完成。", "review"),
        Notice("亲情账户添加申请已重新提交",
               "{holder}重新提交了添加您为亲情账户家庭成员的申请，材料审核中。", "binding"),
    ),
}


def texts(event: str, **values: str) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """(title, body, kind) for the holder and for the relative, filled in."""
    holder, member = NOTICES[event]
    return ((holder.title, holder.body.format(**values), holder.kind),
            (member.title, member.body.format(**values), member.kind))
