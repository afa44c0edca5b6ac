"""居民身份证号 (18-character resident ID number) parsing and checks per GB 11643-1999."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from webapp import clock
from webapp.regions import is_known_province, is_region_code, province_of

LENGTH = 18
EARLIEST_BIRTH = date(1900, 1, 1)
# ISO 7064 MOD 11-2: weight of each of the first 17 digits, and check character by remainder.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

REASONS = {
    "length": "身份证号应为18位",
    "format": "身份证号前17位应为数字，最后一位为数字或X",
    "region": "身份证号前6位地区码无效",
    "birth_date": "出生日期无效",
    "future_birth": "出生日期不能晚于今天",
    "too_early_birth": "出生日期无效，不能早于1900年",
    "check_char": "身份证号校验位错误，请核对",
}


class IdNumberError(ValueError):
    """A rejected ID number: ``.reason`` is the Chinese message, ``.code`` a stable slug."""

    def __init__(self, code: str, reason: str | None = None):
        """Build the error from its slug (the reason defaults to the standard message)."""
        self.code = "birth_date" if code == "too_early_birth" else code
        self.reason = reason or REASONS[code]
        super().__init__(self.reason)


@dataclass(frozen=True)
class IdInfo:
    """What an ID number says: region, birth date, sequence and gender."""

    number: str
    region_code: str
    province_code: str
    birth_date: date
    sequence: int
    gender: str

    def age_on(self, day: date) -> int:
        """Age in 周岁 on the given day."""
        return age_on(self.birth_date, day)


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') for the first 17 digits."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("check_char needs exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalise(value: object) -> str:
    """Full-width characters folded to ASCII, whitespace removed, 'x' upper-cased."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return "".join(text.split()).upper()


def parse_id_number(value: str, today: date | None = None) -> IdInfo:
    """Validate an ID number and return what it says; raise IdNumberError with the reason."""
    number = normalise(value)
    if len(number) != LENGTH:
        raise IdNumberError("length")
    body, last = number[:17], number[17]
    if not (body.isascii() and body.isdigit()) or last not in "0123456789X":
        raise IdNumberError("format")
    region = number[:6]
    if not is_known_province(region):
        raise IdNumberError("region")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError("birth_date") from None
    if birth < EARLIEST_BIRTH:
        raise IdNumberError("too_early_birth")
    if birth > (today or clock.today()):
        raise IdNumberError("future_birth")
    if check_char(body) != last:
        raise IdNumberError("check_char")
    sequence = int(number[14:17])
    return IdInfo(
        number=number,
        region_code=region,
        province_code=province_of(region),
        birth_date=birth,
        sequence=sequence,
        gender="男" if sequence % 2 else "女",
    )


def age_on(birth: date, day: date) -> int:
    """Age in 周岁 on day: the birthday itself counts; 29 Feb births age on 1 March."""
    # Comparing (month, day) tuples makes 29 February fall after 28 February, so in a
    # non-leap year the birthday is reached on 1 March.
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def date_turning(birth: date, years: int) -> date:
    """The first day on which someone born on birth is ``years`` 周岁 old."""
    if years < 0:
        raise ValueError("years must not be negative")
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # 29 February in a non-leap year
        return date(birth.year + years, 3, 1)


def make_id_number(region_code: str, birth: date, sequence: int) -> str:
    """A valid ID number for the region, birth date and sequence (0-999, odd = male)."""
    if not is_region_code(region_code) or not is_known_province(region_code):
        raise ValueError(f"unknown region code {region_code!r}")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be between 0 and 999")
    if not EARLIEST_BIRTH <= birth <= date(9999, 12, 31):
        raise ValueError("birth date must not be before 1900")
    first17 = f"{region_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
