"""Shared form fields (webapp/forms.py): one phone pattern, one ID normaliser, one yuan
parser, one ActionForm — and every blueprint's forms use them."""

from __future__ import annotations

import importlib
import inspect
from datetime import date

import pytest
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from webapp import forms
from webapp.accounts.services import PHONE_RE
from webapp.forms import IdNumberField, PhoneField, YuanField
from webapp.idnumber import make_id_number, normalise

ID = make_id_number("360102", date(1990, 1, 1), 123)
ID_X = make_id_number("360102", date(1990, 1, 1), 19)  # ends in X
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")


class Sample(FlaskForm):
    """A form with each shared field once."""

    class Meta:
        csrf = False

    phone = PhoneField(required="请输入手机号")
    optional_phone = PhoneField()
    id_number = IdNumberField(required="请输入身份证号")
    full_id = IdNumberField(check="full")
    search_id = IdNumberField(check="max")
    amount = YuanField(max_fen=100_000)


def posted(app, **data) -> Sample:
    """The Sample form validated against the posted fields."""
    defaults = {"phone": "13900000001", "id_number": ID}
    with app.test_request_context(method="POST"):
        form = Sample(formdata=MultiDict({**defaults, **data}))
        form.validate()
        return form


def test_id_normaliser_folds_full_width_and_any_whitespace(app):
    """Both spellings the two old normalisers disagreed on end up as the stored number."""
    assert ID_X.endswith("X")
    full_width = ID_X.translate(FULL_WIDTH)
    spaced = f" {ID_X[:6]} {ID_X[6:14]}\t{ID_X[14:].lower()} "
    for typed in (full_width, spaced):
        assert normalise(typed) == ID_X
        form = posted(app, id_number=typed, full_id=typed)
        assert form.id_number.data == ID_X and form.full_id.data == ID_X
        assert not form.id_number.errors and not form.full_id.errors


def test_id_number_checks(app):
    """length: exactly 18; full: the GB 11643 reason; max: a search term up to 18."""
    form = posted(app, id_number=ID[:-1], full_id=ID[:-1] + ("0" if ID[-1] != "0" else "1"),
                  search_id=ID[:10])
    assert form.id_number.errors == ["身份证号应为18位"]
    assert form.full_id.errors == ["身份证号校验位错误，请核对"]
    assert not form.search_id.errors
    assert posted(app, id_number="").id_number.errors == ["请输入身份证号"]
    with app.test_request_context(), pytest.raises(ValueError):
        IdNumberField(check="other").bind(Sample(meta={"csrf": False}), "other")


@pytest.mark.parametrize(("typed", "ok"), [
    ("13900000001", True), ("139 0000 0001", True), ("139-0000-0001", True),
    ("１３９００００００01", True), ("12900000001", False), ("1390000000", False),
    ("139000000012", False), ("abc", False),
])
def test_phone_field_uses_the_account_pattern(app, typed, ok):
    """The one pattern (1[3-9] + 9 digits) after removing spaces and dashes."""
    form = posted(app, phone=typed, optional_phone=typed)
    assert (not form.phone.errors) is ok and (not form.optional_phone.errors) is ok
    if ok:
        assert form.phone.data == "13900000001" and PHONE_RE.match(form.phone.data)
    assert not posted(app, optional_phone="").optional_phone.errors
    assert posted(app, phone="").phone.errors == ["请输入手机号"]


@pytest.mark.parametrize(("typed", "fen"), [("200", 20000), ("200.5", 20050), (" 0.01 ", 1),
                                            ("", None), ("1000", 100_000)])
def test_yuan_field_gives_fen(app, typed, fen):
    """YuanField.data is integer fen (None when left empty)."""
    form = posted(app, amount=typed)
    assert not form.amount.errors and form.amount.data == fen


@pytest.mark.parametrize("typed", ["1,000", "-1", "1.234", "abc", "1e3", "1000.01"])
def test_yuan_field_refuses_and_shows_what_was_typed(app, typed):
    """A wrong amount (or over max_fen) is a field error; the input keeps the text."""
    form = posted(app, amount=typed)
    assert form.amount.errors == ["请输入正确的金额"] and form.amount.data is None
    assert form.amount._value() == typed


def test_aid_monthly_cap_keeps_its_seven_digits(app):
    """The 共济 monthly cap took at most 7 digits of yuan (its old pattern); still so."""
    from webapp.blueprints.aid.forms import WindowForm

    with app.test_request_context(method="POST"):
        ok = WindowForm(formdata=MultiDict({"monthly_cap": "9999999.99"}), meta={"csrf": False})
        big = WindowForm(formdata=MultiDict({"monthly_cap": "10000000"}), meta={"csrf": False})
        assert ok.validate() and ok.monthly_cap.data == 999_999_999
        assert not big.validate() and big.monthly_cap.errors == ["请输入正确的金额"]
        shown = WindowForm(formdata=None, monthly_cap=20050, meta={"csrf": False})
        assert shown.monthly_cap._value() == "200.50"


BLUEPRINT_FORMS = ["aid", "auth", "face", "family", "pharmacy", "review"]


@pytest.mark.parametrize("name", BLUEPRINT_FORMS)
def test_blueprint_forms_use_the_shared_fields(name):
    """No blueprint defines its own ActionForm, phone pattern or ID normaliser any more."""
    module = importlib.import_module(f"webapp.blueprints.{name}.forms")
    source = inspect.getsource(module)
    assert "class ActionForm" not in source
    assert r"1[3-9]\d{9}" not in source
    assert ".upper()" not in source and "Regexp(YUAN" not in source


@pytest.mark.parametrize("module", ["webapp.blueprints.family.members",
                                    "webapp.blueprints.invite.routes",
                                    "webapp.blueprints.aid.forms"])
def test_one_action_form(module):
    """Every view that needs a CSRF-only button uses webapp.forms.ActionForm."""
    assert importlib.import_module(module).ActionForm is forms.ActionForm
