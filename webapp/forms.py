"""Form fields every blueprint shares: phone, ID number, yuan amount, and the CSRF-only form.

Each field reads its rule from the one place that owns it: the phone pattern from
accounts.services, the ID number normaliser and checks from webapp/idnumber.py, yuan from
webapp/money.py. Forms check shape; services still check the rules that need the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectChoice, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from webapp.accounts.services import MSG_PHONE_FORMAT, PHONE_RE, normalise_phone
from webapp.idnumber import LENGTH, REASONS, IdNumberError, normalise, parse_id_number
from webapp.money import YuanError, parse_yuan, yuan


class ActionForm(FlaskForm):
    """A state-changing button (CSRF token only)."""


def strip(value: Any) -> Any:
    """Filter: surrounding whitespace removed from text."""
    return value.strip() if isinstance(value, str) else value


def _phone(value: Any) -> Any:
    """Filter: the phone without spaces or dashes, full-width digits folded."""
    return normalise_phone(value) if isinstance(value, str) else value


def _id_number(value: Any) -> Any:
    """Filter: the ID number normalised (full-width folded, whitespace removed, 'x' → 'X')."""
    return normalise(value) if isinstance(value, str) else value


def _required(message: str | None) -> list:
    """DataRequired with the message, or Optional when the field may stay empty."""
    return [DataRequired(message)] if message else [Optional()]


class PhoneField(StringField):
    """A Chinese mobile number (``accounts.services.PHONE_RE``), normalised as typed.

    ``required`` is the message when it is left empty (None: optional); ``check=False`` only
    normalises (the login form says nothing about the format of a wrong number).
    """

    def __init__(self, label: str = "手机号", validators: list | None = None, *,
                 required: str | None = None, check: bool = True,
                 message: str = MSG_PHONE_FORMAT, **kwargs: Any):
        chain = _required(required)
        if check:
            chain.append(Regexp(PHONE_RE, message=message))
        super().__init__(label, [*chain, *(validators or [])], filters=[_phone], **kwargs)


def _valid_id_number(form: Any, field: Any) -> None:
    """The ID number's own reason (length, check character, birth date …) on the field."""
    if not field.data:
        return
    try:
        parse_id_number(field.data)
    except IdNumberError as err:
        raise ValidationError(err.reason) from None


class IdNumberField(StringField):
    """An 18-character 居民身份证号, normalised by ``idnumber.normalise``.

    ``check``: 'length' (exactly 18; the service checks the rest), 'full' (every GB 11643
    check, with its reason), or 'max' (at most 18: a search term).
    """

    def __init__(self, label: str = "身份证号", validators: list | None = None, *,
                 required: str | None = None, check: str = "length", **kwargs: Any):
        chain = _required(required)
        if check == "full":
            chain.append(_valid_id_number)
        elif check == "length":
            chain.append(Length(min=LENGTH, max=LENGTH, message=REASONS["length"]))
        elif check == "max":
            chain.append(Length(max=LENGTH, message=REASONS["length"]))
        else:
            raise ValueError(f"unknown ID number check {check!r}")
        super().__init__(label, [*chain, *(validators or [])], filters=[_id_number], **kwargs)


class YuanField(StringField):
    """An amount typed in yuan; ``data`` is integer fen (None when left empty).

    Read by ``money.parse_yuan`` (strict); ``max_fen`` bounds it. The field shows what was
    typed when it cannot be read, else the amount in yuan.
    """

    def __init__(self, label: str = "金额（元）", validators: list | None = None, *,
                 max_fen: int | None = None, message: str = "请输入正确的金额", **kwargs: Any):
        self.max_fen = max_fen
        self.message = message
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist: list) -> None:
        """Parse the typed text into fen; a wrong one becomes the field's error."""
        text = (valuelist[0] if valuelist else "") or ""
        if not text.strip():
            self.data = None
            return
        try:
            fen = parse_yuan(text)
        except YuanError:
            self.data = None
            raise ValueError(self.message) from None
        if self.max_fen is not None and fen > self.max_fen:
            self.data = None
            raise ValueError(self.message)
        self.data = fen

    def _value(self) -> str:
        """What the input shows."""
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, int):
            return yuan(self.data)
        return str(self.data or "")


def select_choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as SelectChoice options (tuple choices are removed in WTForms 3.4)."""
    return [SelectChoice(value, label) for value, label in pairs]
