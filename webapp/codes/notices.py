"""What a settlement and its cancellation tell the patient, their relatives and a 共济 owner."""

from __future__ import annotations

from webapp.kinship.access import bindings_to
from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.models import InsuredPerson, Pharmacy, Settlement
from webapp.money import yuan


def split_text(settlement: Settlement) -> str:
    """'个人账户¥20.00，现金¥3.50' — the non-zero parts of a payment."""
    return parts_text(settlement.account_fen, settlement.aid_fen, settlement.cash_fen)


def parts_text(account_fen: int, aid_fen: int, cash_fen: int) -> str:
    """The non-zero parts of a split, as the receipt writes them."""
    parts = [("个人账户", account_fen), ("共济", aid_fen), ("现金", cash_fen)]
    return "，".join(f"{label}¥{yuan(fen)}" for label, fen in parts if fen)


def notify_settled(settlement: Settlement, patient: InsuredPerson, pharmacy: Pharmacy,
                   aid_owner: InsuredPerson | None) -> None:
    """Tell the patient, everyone who can show their code, and a 共济 owner who paid."""
    total = yuan(settlement.total_fen)
    messages.send(patient, "医保支付通知",
                  f"您在{pharmacy.name}支付¥{total}（{split_text(settlement)}）",
                  "payment", messages.page("records.index"))
    for binding in bindings_to(patient):
        messages.send(binding.holder, "家人医保支付通知",
                      f"{mask_name(patient.name)}在{pharmacy.name}使用医保支付¥{total}",
                      "payment", messages.page("records.index", who=binding.public_id))
    if aid_owner is not None and aid_owner.id != patient.id:
        messages.send(aid_owner, "家庭共济支付通知",
                      f"{mask_name(patient.name)}在{pharmacy.name}使用您的个人账户支付"
                      f"¥{yuan(settlement.aid_fen)}", "aid", messages.page("aid.spending"))


def notify_cancelled(settlement: Settlement) -> None:
    """Tell the same people that the payment was cancelled and where the money went back."""
    patient, pharmacy = settlement.person, settlement.pharmacy
    total = yuan(settlement.total_fen)
    back = parts_text(settlement.account_fen, settlement.aid_fen, settlement.cash_fen)
    messages.send(patient, "医保支付撤销通知",
                  f"您在{pharmacy.name}的¥{total}支付已撤销（原因：{settlement.cancel_reason}），"
                  f"已退回：{back}", "payment", messages.page("records.index"))
    told = {patient.id}
    for binding in bindings_to(patient):
        told.add(binding.holder.id)
        messages.send(binding.holder, "家人医保支付撤销通知",
                      f"{mask_name(patient.name)}在{pharmacy.name}的¥{total}医保支付已撤销",
                      "payment", messages.page("records.index", who=binding.public_id))
    holder = settlement.holder
    if holder is not None and holder.id not in told:
        told.add(holder.id)
        messages.send(holder, "家人医保支付撤销通知",
                      f"{mask_name(patient.name)}在{pharmacy.name}的¥{total}医保支付已撤销",
                      "payment", messages.page("records.index"))
    owner = settlement.aid_owner
    if owner is not None and settlement.aid_fen and owner.id != patient.id:
        messages.send(owner, "家庭共济支付撤销通知",
                      f"{mask_name(patient.name)}在{pharmacy.name}使用您个人账户支付的"
                      f"¥{yuan(settlement.aid_fen)}已撤销并退回您的个人账户",
                      "aid", messages.page("aid.spending"))
