"""Masking of names, ID numbers and phone numbers for display to anyone but the person."""

from __future__ import annotations


def _text(value: object) -> str:
    """The value as a stripped string ('' for None)."""
    return "" if value is None else str(value).strip()


def mask_name(name: object) -> str:
    """'张小明' → '张*明', '张三' → '张*', '欧阳小明' → '欧**明'; empty → ''."""
    text = _text(name)
    if len(text) <= 1:
        return "*" * len(text)
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def mask_id(number: object) -> str:
    """'36010219900101123X' → '3601**********123X' (first 4 and last 4 kept); empty → ''."""
    text = _text(number)
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def mask_phone(phone: object) -> str:
    """'13812345678' → '138****5678' (first 3 and last 4 kept); empty → ''."""
    text = _text(phone)
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]
