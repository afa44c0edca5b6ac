"""居民身份证号 parsing (GB 11643-1999), ages in 周岁 and the 29 February birthday."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.idnumber import (
    IdNumberError,
    age_on,
    check_char,
    date_turning,
    make_id_number,
    parse_id_number,
)
from webapp.regions import PROVINCES

TODAY = date(2026, 3, 15)
VALID = "36010219900101123X"  # 江西南昌, born 1990-01-01, sequence 123 (male)

provinces = st.sampled_from(sorted(PROVINCES))
districts = st.integers(min_value=0, max_value=9999).map(lambda n: f"{n:04d}")
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


def with_check(first17: str) -> str:
    """A number completed with its correct check character."""
    return first17 + check_char(first17)


def test_known_number_is_parsed():
    """A real-shaped number gives its region, birth date, sequence and gender."""
    info = parse_id_number(VALID, today=TODAY)
    assert info.number == VALID
    assert info.region_code == "360102"
    assert info.province_code == "360000"
    assert info.birth_date == date(1990, 1, 1)
    assert info.sequence == 123
    assert info.gender == "男"
    assert info.age_on(TODAY) == 36


def test_lower_case_x_and_spaces_are_normalised():
    """Lower-case x is accepted and stored upper-case; surrounding spaces are dropped."""
    assert parse_id_number(" 36010219900101123x ", today=TODAY).number == VALID


def test_full_width_digits_are_accepted():
    """Digits typed with a full-width input method are folded to ASCII."""
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in VALID)
    assert parse_id_number(full_width, today=TODAY).number == VALID


def test_check_char_follows_iso_7064():
    """The MOD 11-2 check character of known numbers, including X and 0."""
    assert check_char("36010219900101123") == "X"
    assert check_char("11010519491231002") == "X"
    assert check_char("44052418800101001") == "4"
    with pytest.raises(ValueError):
        check_char("1234")


@given(provinces, districts, births, sequences)
def test_every_generated_number_is_accepted(province, district, birth, sequence):
    """Numbers from make_id_number parse back to the same birth date, sequence and gender."""
    region = province[:2] + district
    number = make_id_number(region, birth, sequence)
    info = parse_id_number(number, today=TODAY)
    assert info.region_code == region
    assert info.province_code == province
    assert info.birth_date == birth
    assert info.sequence == sequence
    assert info.gender == ("男" if sequence % 2 else "女")


@given(
    provinces,
    births,
    sequences,
    st.integers(min_value=0, max_value=17),
    st.sampled_from("0123456789Xx"),
)
def test_every_single_character_change_is_rejected(province, birth, sequence, position, char):
    """MOD 11-2 catches every single-character change, whatever else the change breaks."""
    number = make_id_number(province, birth, sequence)
    corrupted = number[:position] + char + number[position + 1 :]
    if corrupted.upper() == number:
        return
    with pytest.raises(IdNumberError):
        parse_id_number(corrupted, today=TODAY)


@given(provinces, births, sequences, st.integers(min_value=0, max_value=16))
def test_a_changed_digit_with_the_old_check_char_fails_the_check(province, birth, sequence, pos):
    """A digit change never keeps MOD 11-2 valid: the check character must change too."""
    number = make_id_number(province, birth, sequence)
    for digit in "0123456789":
        if digit == number[pos]:
            continue
        first17 = number[:pos] + digit + number[pos + 1 : 17]
        assert check_char(first17) != number[17]


@pytest.mark.parametrize(
    ("value", "code", "reason"),
    [
        ("", "length", "身份证号应为18位"),
        (None, "length", "身份证号应为18位"),
        ("3601021990010112", "length", "身份证号应为18位"),
        ("36010219900101123X1", "length", "身份证号应为18位"),
        ("3601021990010112XX", "format", "身份证号前17位应为数字，最后一位为数字或X"),
        ("36010219900101123Y", "format", "身份证号前17位应为数字，最后一位为数字或X"),
        ("3601021990A101123X", "format", "身份证号前17位应为数字，最后一位为数字或X"),
        (with_check("00010219900101123"), "region", "身份证号前6位地区码无效"),
        (with_check("99010219900101123"), "region", "身份证号前6位地区码无效"),
        (with_check("16010219900101123"), "region", "身份证号前6位地区码无效"),
        (with_check("36010219900230123"), "birth_date", "出生日期无效"),
        (with_check("36010220230229123"), "birth_date", "出生日期无效"),
        (with_check("36010219901301123"), "birth_date", "出生日期无效"),
        (with_check("36010219900100123"), "birth_date", "出生日期无效"),
        (with_check("36010218991231123"), "birth_date", "出生日期无效，不能早于1900年"),
        (with_check("36010220260316123"), "future_birth", "出生日期不能晚于今天"),
        (with_check("36010220300101123"), "future_birth", "出生日期不能晚于今天"),
        ("360102199001011230", "check_char", "身份证号校验位错误，请核对"),
        ("36010219900101124X", "check_char", "身份证号校验位错误，请核对"),
    ],
)
def test_each_kind_of_bad_number_has_its_reason(value, code, reason):
    """Every failure says what is wrong, in Chinese, with a stable code."""
    with pytest.raises(IdNumberError) as caught:
        parse_id_number(value, today=TODAY)
    assert caught.value.code == code
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_id_number_error_is_a_value_error():
    """Callers catching ValueError also catch a bad ID number."""
    assert issubclass(IdNumberError, ValueError)


def test_born_today_is_accepted_and_tomorrow_is_not():
    """A birth date equal to today is valid; one day later is in the future."""
    assert parse_id_number(make_id_number("360102", TODAY, 1), today=TODAY).age_on(TODAY) == 0
    tomorrow = with_check(f"360102{TODAY + timedelta(days=1):%Y%m%d}001")
    with pytest.raises(IdNumberError) as caught:
        parse_id_number(tomorrow, today=TODAY)
    assert caught.value.code == "future_birth"


def test_sixteenth_birthday_counts_as_sixteen():
    """On the 16th birthday itself one is 16 周岁; the day before, 15."""
    birth = date(2010, 3, 15)
    assert age_on(birth, date(2026, 3, 15)) == 16
    assert age_on(birth, date(2026, 3, 14)) == 15
    assert date_turning(birth, 16) == date(2026, 3, 15)


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(2026, 2, 28), 17),  # non-leap year: not yet
        (date(2026, 3, 1), 18),  # non-leap year: 1 March
        (date(2028, 2, 28), 19),
        (date(2028, 2, 29), 20),  # leap year: the day itself
        (date(2008, 2, 29), 0),
    ],
)
def test_29_february_birthday(day, age):
    """Someone born 29 Feb 2008 gets a year older on 29 Feb, or on 1 March in other years."""
    assert age_on(date(2008, 2, 29), day) == age


def test_date_turning_for_29_february():
    """The first day of being N 周岁 for a 29 February birth."""
    assert date_turning(date(2008, 2, 29), 16) == date(2024, 2, 29)
    assert date_turning(date(2008, 2, 29), 18) == date(2026, 3, 1)
    with pytest.raises(ValueError):
        date_turning(date(2008, 2, 29), -1)


@given(births, st.integers(min_value=0, max_value=100))
def test_date_turning_is_the_first_day_of_that_age(birth, years):
    """On date_turning one has the age, the day before one does not."""
    turning = date_turning(birth, years)
    assert age_on(birth, turning) >= years
    if years:
        assert age_on(birth, turning - timedelta(days=1)) < years


def test_make_id_number_refuses_bad_input():
    """Unknown provinces, out-of-range sequences and pre-1900 births are programming errors."""
    with pytest.raises(ValueError):
        make_id_number("990000", date(1990, 1, 1), 1)
    with pytest.raises(ValueError):
        make_id_number("36010", date(1990, 1, 1), 1)
    with pytest.raises(ValueError):
        make_id_number("360102", date(1990, 1, 1), 1000)
    with pytest.raises(ValueError):
        make_id_number("360102", date(1899, 12, 31), 1)


def test_even_sequence_is_female():
    """An even sequence number (000 included) means 女."""
    assert (
        parse_id_number(make_id_number("460100", date(2000, 6, 1), 0), today=TODAY).gender == "女"
    )
    assert (
        parse_id_number(make_id_number("460100", date(2000, 6, 1), 998), today=TODAY).gender == "女"
    )


def test_today_defaults_to_the_app_clock():
    """Without an explicit day the check uses the app's clock (China date)."""
    assert parse_id_number(VALID).birth_date == date(1990, 1, 1)
    with pytest.raises(IdNumberError) as caught:
        parse_id_number(with_check("36010229990101123"))
    assert caught.value.code == "future_birth"
