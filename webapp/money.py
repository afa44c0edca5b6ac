"""Money is integer fen everywhere; this is how it is written for people and read back."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Yuan as a person types it in a form: digits, at most two decimals (no sign, no exponent).
YUAN_RE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


class YuanError(ValueError):
    """Typed yuan that cannot be read; ``code`` is 'format' or 'negative'."""

    def __init__(self, code: str):
        """Build the error from its code."""
        self.code = code
        super().__init__(code)


def yuan(fen: int | None) -> str:
    """Integer fen as a yuan string with two decimals (2350 → '23.50', -5 → '-0.05')."""
    fen = int(fen or 0)
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def parse_yuan(text: str | int | Decimal | None, *, loose: bool = False) -> int:
    """Yuan as typed → integer fen, exactly (Decimal, never float); YuanError if unreadable.

    Strict (forms: pharmacy amount, 共济 monthly cap): ``YUAN_RE`` after trimming spaces —
    '23.5', '0.01', ' 7 '; refuses '1,000', '1e3', '-1', '1.234', full-width digits.
    ``loose`` (operator input: CLI, seed files) also takes a '¥' prefix, thousands commas, an
    exponent and trailing zeros ('1,234.56', '¥8', '1e2', '1.500'); a negative amount is
    YuanError('negative'). An empty or None value is 0 only when loose.
    """
    if loose:
        raw = str(text if text is not None else "0").strip().replace(",", "")
        try:
            amount = Decimal(raw.removeprefix("¥"))
        except InvalidOperation:
            raise YuanError("format") from None
        if not amount.is_finite() or amount != amount.quantize(_CENT):
            raise YuanError("format")
        if amount < 0:
            raise YuanError("negative")
        return int(amount * 100)
    raw = str(text or "").strip()
    if not YUAN_RE.fullmatch(raw):
        raise YuanError("format")
    return int(Decimal(raw) * 100)
