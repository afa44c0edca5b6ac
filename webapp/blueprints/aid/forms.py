"""Forms of the 家庭共济 pages (shape only; the rules live in webapp/aid/services.py)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from webapp.forms import ActionForm, IdNumberField, YuanField, strip

__all__ = ["ActionForm", "AddMemberForm", "NoticeForm", "WindowForm"]

# The monthly cap as typed: at most 7 digits of yuan (9,999,999.99).
CAP_MAX_FEN = 999_999_999


class NoticeForm(FlaskForm):
    """家庭共济告知书: agree to create the group."""

    agree = BooleanField("我已阅读并同意《家庭共济告知书》",
                         validators=[InputRequired("请阅读并勾选同意《家庭共济告知书》")])


class WindowForm(FlaskForm):
    """Authorisation window and monthly cap (only where the owner's policy allows them)."""

    starts_on = DateField("授权开始", validators=[Optional()],
                          render_kw={"aria-describedby": "window-hint"})
    ends_on = DateField("授权结束", validators=[Optional()])
    monthly_cap = YuanField("每月限额（元）", max_fen=CAP_MAX_FEN,
                            render_kw={"inputmode": "decimal", "placeholder": "不填则不限额"})


class AddMemberForm(WindowForm):
    """A relative by name + ID number + relation, or picked from 亲情账户 (``pick``)."""

    pick = HiddenField()
    name = StringField("姓名", filters=[strip],
                       validators=[Optional(), Length(max=40, message="姓名过长")],
                       render_kw={"autocomplete": "off", "placeholder": "与身份证一致"})
    id_number = IdNumberField(render_kw={"autocomplete": "off", "placeholder": "18位身份证号"})
    relation = SelectField("与您的关系", choices=[], validate_choice=False,
                           validators=[InputRequired("请选择与您的关系")])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not self.pick.data:
            if not self.name.data:
                self.name.errors = [*self.name.errors, "请输入亲属的姓名"]
                ok = False
            if not self.id_number.data:
                self.id_number.errors = [*self.id_number.errors, "请输入亲属的身份证号"]
                ok = False
        if self.relation.data == "":
            ok = False
            if not self.relation.errors:
                self.relation.errors = ["请选择与您的关系"]
        return ok
