"""Administrative divisions (GB/T 2260) by their 6-digit region code: the 34 province-level
units, and the real list of province, prefecture and county codes (webapp/gb2260.tsv)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TypeGuard

DIVISIONS_FILE = Path(__file__).with_name("gb2260.tsv")

UNKNOWN_REGION = "未知地区"

# The 34 province-level units; a region code's first two digits name its province.
PROVINCES: dict[str, str] = {
    "110000": "北京市",
    "120000": "天津市",
    "130000": "河北省",
    "140000": "山西省",
    "150000": "内蒙古自治区",
    "210000": "辽宁省",
    "220000": "吉林省",
    "230000": "黑龙江省",
    "310000": "上海市",
    "320000": "江苏省",
    "330000": "浙江省",
    "340000": "安徽省",
    "350000": "福建省",
    "360000": "江西省",
    "370000": "山东省",
    "410000": "河南省",
    "420000": "湖北省",
    "430000": "湖南省",
    "440000": "广东省",
    "450000": "广西壮族自治区",
    "460000": "海南省",
    "500000": "重庆市",
    "510000": "四川省",
    "520000": "贵州省",
    "530000": "云南省",
    "540000": "西藏自治区",
    "610000": "陕西省",
    "620000": "甘肃省",
    "630000": "青海省",
    "640000": "宁夏回族自治区",
    "650000": "新疆维吾尔自治区",
    "710000": "台湾省",
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
}


def is_region_code(code: object) -> TypeGuard[str]:
    """True when code is a string of exactly six ASCII digits."""
    return isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()


def province_of(code: str) -> str:
    """The province code ('XX0000') of any 6-digit region code; ValueError if not 6 digits."""
    if not is_region_code(code):
        raise ValueError(f"region code must be 6 digits, got {code!r}")
    return code[:2] + "0000"


def is_known_province(code: str) -> bool:
    """True when the 6-digit region code lies in one of the 34 province-level units."""
    return is_region_code(code) and province_of(code) in PROVINCES


@cache
def divisions() -> dict[str, str]:
    """Every GB/T 2260 code of the vendored list with its name (read once)."""
    rows: dict[str, str] = {}
    for line in DIVISIONS_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t", 1)
            rows[code] = name
    return rows


def is_known_region(code: object) -> bool:
    """True when code is a real province, prefecture or county code ('123456' is not)."""
    return is_region_code(code) and code in divisions()


def province_name(code: object) -> str:
    """The province name of a 6-digit region code ('360102' → '江西省'); unknown → '未知地区'."""
    if not is_region_code(code):
        return UNKNOWN_REGION
    return PROVINCES.get(province_of(code), UNKNOWN_REGION)
