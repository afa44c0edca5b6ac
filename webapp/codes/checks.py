"""Input rules of a settlement: amount (integer fen within the policy maximum), items, type."""

from __future__ import annotations

from webapp.api.errors import fail
from webapp.models import Pharmacy
from webapp.money import YuanError, parse_yuan, yuan
from webapp.policy import policy_for

BUSINESS_TYPES = {"02121": "药店购药"}
ITEMS_MAX = 200
REASON_MAX = 100


def check_amount(amount_fen: int, pharmacy: Pharmacy) -> int:
    """Refuse an amount that is not a positive integer of fen within the policy maximum."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise fail("invalid_amount", "金额必须大于0", field="amount")
    max_fen = policy_for(pharmacy.region_code).pharmacy.max_amount_fen
    if amount_fen > max_fen:
        raise fail("invalid_amount", f"单笔金额不能超过¥{yuan(max_fen)}", field="amount")
    return amount_fen


def parse_amount(text: str | None, pharmacy: Pharmacy) -> int:
    """Yuan as typed ('23.5', '23.50') → integer fen, exactly; refuses anything else."""
    try:
        fen = parse_yuan(text)
    except YuanError:
        raise fail("invalid_amount", "请输入正确的金额（单位元，最多两位小数）", field="amount") from None
    return check_amount(fen, pharmacy)


def check_items(items: str | None) -> str:
    """The item text: required, at most ITEMS_MAX characters."""
    items = (items or "").strip()
    if not items:
        raise fail("invalid_items", "请填写药品或项目", field="items")
    if len(items) > ITEMS_MAX:
        raise fail("invalid_items", f"药品或项目不能超过{ITEMS_MAX}个字", field="items")
    return items


def check_business_type(business_type: str) -> str:
    """A supported business type (02121 药店购药)."""
    if business_type not in BUSINESS_TYPES:
        raise fail("invalid_business_type", field="business_type")
    return business_type


def check_reason(reason: str | None) -> str:
    """A cancel reason: required, at most REASON_MAX characters, no control characters."""
    text = " ".join((reason or "").split())
    if not text or len(text) > REASON_MAX or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise fail("invalid_reason", field="reason")
    return text


def cancel_days(pharmacy: Pharmacy) -> int:
    """Days after its China day a settlement may still be cancelled (policy; 0 = same day)."""
    return policy_for(pharmacy.region_code).pharmacy.cancel_days
