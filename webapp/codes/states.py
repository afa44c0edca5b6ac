"""States of a settlement (结算单) and of a recorded message id (msgid), with labels and pills."""

from __future__ import annotations

from webapp.states import State


class SettlementStatus(State):
    """A settlement is settled once, and may be cancelled (whole) within the policy window."""

    SETTLED = "settled", "已结算", "ok"
    CANCELLED = "cancelled", "已撤销", "off"


class MessageKind(State):
    """What a recorded msgid did: the operation, or a reversal that came before its message."""

    VERIFY = "verify", "解码", "off"
    SETTLE = "settle", "结算", "ok"
    CANCEL = "cancel", "结算撤销", "off"
    REVERSAL = "reversal", "冲正", "off"
    # Reserved by a reversal of a message that never arrived: a late arrival is refused.
    REVERSED = "reversed", "已冲正", "bad"
