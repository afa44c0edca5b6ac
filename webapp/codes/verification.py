"""A verified 医保码 (1101's answer): the patient, who showed the code, the settlement token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from webapp import clock
from webapp.codes.services import holder_kin_word
from webapp.masking import mask_name
from webapp.models import InsuranceCode, InsuredPerson, KinshipBinding, Pharmacy
from webapp.policy import policy_for


@dataclass(frozen=True)
class Verification:
    """A verified code: who the patient is, who showed it, and the settlement token."""

    code: InsuranceCode
    patient: InsuredPerson
    holder: InsuredPerson | None
    binding: KinshipBinding | None
    pharmacy: Pharmacy
    token: str
    token_expires_at: datetime

    @property
    def shown_by(self) -> str:
        """'本人出示' or '由 李*（母亲）代为出示'."""
        if self.binding is None or self.holder is None:
            return "本人出示"
        return f"由 {mask_name(self.holder.name)}（{holder_kin_word(self.binding)}）代为出示"

    @property
    def age(self) -> int:
        """The patient's age today (周岁)."""
        return self.patient.age_on(clock.today())

    @property
    def balance_fen(self) -> int:
        """The patient's own personal-account balance."""
        return self.patient.balance_fen

    @cached_property
    def aid_available_fen(self) -> int:
        """What 家庭共济 could add right now (worked out once: the patient card reads it twice)."""
        from webapp.codes.settlement import aid_payer  # it imports this module

        payer = aid_payer(self.patient, policy_for(self.pharmacy.region_code)
                          .pharmacy.max_amount_fen, clock.now())
        return min(payer.allowed_fen, payer.account.balance_fen) if payer else 0

    @property
    def max_amount_fen(self) -> int:
        """The largest amount this pharmacy may settle at once."""
        return policy_for(self.pharmacy.region_code).pharmacy.max_amount_fen
