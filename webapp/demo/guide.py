"""Which demo login shows what, after the history (``webapp.demo.history``) was played.

``flask init-demo`` (so ``make run``) and ``flask seed-demo`` print these lines; the README
quotes them. Each line: the phone, who it is, and where to look.
"""

from __future__ import annotations

from collections.abc import Iterator

GUIDE: tuple[tuple[str, str, str], ...] = (
    ("13800000001", "张建国（江西，参保人，先登录这个）",
     "首页：余额 ¥1903.00 和未读消息；家庭：张小明、张小红、父亲张德胜已绑定，张子豪（16岁）"
     "待确认；家庭共济：3 名成员及消费明细；消费记录：本人、代家人（切换到 张*明 / 张*红 / "
     "张*胜）、共济支付的记录；消息：结算、共济、邀请通知"),
    ("13800000004", "张德胜（张建国的父亲）",
     "家庭 → 绑定我的人：儿子已绑定；家庭共济 → 被绑定列表；消费记录：由共济支付的降压药"),
    ("13800000003", "张子豪（16岁）",
     "消息：父亲发来的亲情账户邀请，可在此确认或拒绝（邀请 72 小时内有效）"),
    ("13800000011", "陈志强（江苏，需审核）",
     "家庭：陈思涵 待审核；陈思远 审核未通过（原因：材料不清晰），可重新提交"),
    ("13600000009", "审核员 周婷",
     "待审核：陈思涵的申请（完整姓名与身份证号，每次查看记入审计日志）；已处理：陈思远"),
    ("13600000001", "仁心大药房 店员 王敏",
     "扫码结算（请张建国出示医保码）；对账：选择过去的日期可见张家的结算"),
)


def guide_lines() -> Iterator[str]:
    """The printed guide, a line per login."""
    yield "演示数据已包含近三个月的使用记录，建议这样看："
    for phone, who, what in GUIDE:
        yield f"  {phone}  {who}"
        yield f"      {what}"
