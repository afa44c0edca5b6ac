"""结算详情 (read side): one settlement as the patient, the relative who showed the code, a
holder acting for the patient, or the 共济 payer sees it.

Who sees what:
- the patient, whoever showed the code and a holder of an 已绑定 binding to the patient (who sees
  the row in the patient's 消费记录 already): everything — items, split, pharmacy, who showed the
  code, time, state;
- the 共济 owner whose account paid a share: what their 消费明细 shows already — the member,
  pharmacy, items, the split, time and state — but not who showed the code;
- anyone else: 404, as for an id that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.codes.services import holder_kin_word, member_kin_word
from webapp.codes.states import SettlementStatus
from webapp.domain import NotFound
from webapp.extensions import db
from webapp.kinship.access import active_binding
from webapp.kinship.models import KinshipBinding
from webapp.masking import mask_name
from webapp.models import InsuredPerson, Settlement

MSG_NOT_FOUND = "未找到该结算记录"
# Item lines are joined with '；' by the POS API; the counter form allows lines and commas too.
ITEM_SPLIT = re.compile(r"[；;\n\r、，,]+")
ITEM_LINE = re.compile(r"^(?P<name>.+?)\s*[×xX*]\s*(?P<qty>\d+)(?:\s*¥\s*(?P<amount>[\d.]+))?$")


class View(Enum):
    """What the viewer may see of a settlement."""

    FULL = "full"
    AID = "aid"  # the 共济 payer: no 出示人


@dataclass(frozen=True)
class Item:
    """One drug line: name, quantity ('' when not given) and amount in yuan ('' when not)."""

    name: str
    quantity: str = ""
    amount: str = ""


def item_lines(text: str) -> list[Item]:
    """The settlement's items text as lines ('布洛芬×1 ¥23.50；口罩' → two items)."""
    out = []
    for part in ITEM_SPLIT.split(text or ""):
        part = part.strip()
        if not part:
            continue
        match = ITEM_LINE.match(part)
        if match:
            out.append(Item(match["name"], match["qty"], match["amount"] or ""))
        else:
            out.append(Item(part))
    return out


@dataclass(frozen=True)
class SettlementDetail:
    """结算详情 page model."""

    settlement: Settlement
    view: View
    viewer: InsuredPerson
    # The viewer's binding to the patient (a holder acting for them), for the patient's word.
    viewer_binding: KinshipBinding | None

    @property
    def full(self) -> bool:
        """Whether the viewer sees everything (not only the 共济 share's view)."""
        return self.view is View.FULL

    @property
    def items(self) -> list[Item]:
        """The drug lines."""
        return item_lines(self.settlement.items)

    @property
    def cancelled(self) -> bool:
        """Whether it was cancelled (撤销) and the money went back."""
        return self.settlement.status == SettlementStatus.CANCELLED

    @property
    def patient(self) -> str:
        """The patient as the viewer calls them: 本人, 张*明（儿子）, or the masked name."""
        s = self.settlement
        if s.person_id == self.viewer.id:
            return "本人"
        binding = self.viewer_binding
        if binding is not None:
            return f"{mask_name(s.person.name)}（{member_kin_word(binding)}）"
        return mask_name(s.person.name)

    @property
    def shown_by(self) -> str:
        """Who showed the code (full view only): 本人出示, 我代为出示, 李*红（母亲）代为出示."""
        s = self.settlement
        if s.holder_person_id is None:
            return "我本人出示" if s.person_id == self.viewer.id else "参保人本人出示"
        if s.holder_person_id == self.viewer.id:
            return "我代为出示"
        word = holder_kin_word(s.binding) if s.binding is not None else ""
        name = mask_name(s.holder.name)
        return f"{name}（{word}）代为出示" if word else f"{name}代为出示"

    @property
    def records_key(self) -> str:
        """Whose 消费记录 list is this page's parent: 'me', or the viewer's binding to the
        patient (the ‹ arrow goes there)."""
        return self.viewer_binding.public_id if self.viewer_binding is not None else "me"

    @property
    def aid_is_mine(self) -> bool:
        """Whether the 共济 share came from the viewer's own account."""
        return bool(self.settlement.aid_fen) and \
            self.settlement.aid_owner_person_id == self.viewer.id


def settlement_detail(viewer: InsuredPerson, public_id: str) -> SettlementDetail:
    """The settlement behind ``public_id`` as the viewer may see it (404 when they may not)."""
    s = db.session.scalar(
        select(Settlement)
        .options(selectinload(Settlement.pharmacy), selectinload(Settlement.person),
                 selectinload(Settlement.holder), selectinload(Settlement.aid_owner),
                 selectinload(Settlement.binding))
        .where(Settlement.public_id == public_id)
    )
    if s is None:
        raise NotFound(MSG_NOT_FOUND, code="not_found")
    binding = None
    if s.person_id != viewer.id:
        binding = active_binding(viewer, s.person)
    if s.person_id == viewer.id or s.holder_person_id == viewer.id or binding is not None:
        return SettlementDetail(s, View.FULL, viewer, binding)
    if s.aid_owner_person_id == viewer.id and s.aid_fen:
        return SettlementDetail(s, View.AID, viewer, None)
    raise NotFound(MSG_NOT_FOUND, code="not_found")
