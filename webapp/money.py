"""Money is integer fen everywhere; this is how it is written for people."""

from __future__ import annotations


def yuan(fen: int | None) -> str:
    """Integer fen as a yuan string with two decimals (2350 → '23.50', -5 → '-0.05')."""
    fen = int(fen or 0)
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
