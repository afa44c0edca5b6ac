"""Forms of the pharmacy steps after the card: 确认结算, 撤销结算 and the 对账 date picker."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

CANCEL_REASON_MAX = 100


class ConfirmForm(FlaskForm):
    """患者确认 → 确认结算: the message id of this settlement (double-submit guard)."""

    msgid = HiddenField(validators=[DataRequired("结算已失效，请重新预结算"), Length(max=40)])
    confirmed = BooleanField("患者已确认以上支付明细",
                             validators=[DataRequired("请先请患者确认支付明细")])


class CancelForm(FlaskForm):
    """撤销结算: why, and the message id of the cancel."""

    msgid = HiddenField(validators=[DataRequired("请重新打开撤销页面"), Length(max=40)])
    reason = TextAreaField(
        "撤销原因",
        validators=[DataRequired("请填写撤销原因"),
                    Length(max=CANCEL_REASON_MAX, message=f"撤销原因不能超过{CANCEL_REASON_MAX}个字")],
    )


class DayForm(FlaskForm):
    """对账日期 (?date=YYYY-MM-DD; today when absent)."""

    class Meta:
        csrf = False  # a GET filter

    date = DateField("对账日期", validators=[Optional()], format="%Y-%m-%d")
