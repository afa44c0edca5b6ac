"""Masking of names, ID numbers and phone numbers."""

from __future__ import annotations

import pytest

from webapp.masking import mask_id, mask_name, mask_phone


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张小明", "张*明"),
        ("张三", "张*"),
        ("欧阳小明", "欧**明"),
        ("买买提·艾力", "买****力"),
        ("张", "*"),
        (" 李四 ", "李*"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(name, masked):
    """Keep the first character (and the last when there are three or more)."""
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("36010219900101123X", "3601**********123X"),
        ("460100200006010000", "4601**********0000"),
        ("360102900101123", "3601*******1123"),
        ("12345678", "********"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id(number, masked):
    """Keep the first 4 and last 4 characters, stars between, same length."""
    assert mask_id(number) == masked
    assert len(mask_id(number)) == len(number or "")


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        (13812345678, "138****5678"),
        ("1381234", "*******"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(phone, masked):
    """Keep the first 3 and last 4 digits."""
    assert mask_phone(phone) == masked
