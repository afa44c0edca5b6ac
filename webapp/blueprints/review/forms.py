"""Forms of the review pages (shape only; the rules live in webapp/review/services.py)."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from webapp.forms import IdNumberField, select_choices, strip
from webapp.review.services import NOTE_MAX, REJECT_REASONS


class DayField(DateField):
    """A YYYY-MM-DD date with a Chinese message when it cannot be read."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            raise ValueError("请输入正确的日期（如2026-01-31）") from err


class DecisionForm(FlaskForm):
    """通过, or 不通过 with a reason from the list (其他 needs the reviewer's words)."""

    version = HiddenField()
    reason = RadioField("不通过原因", choices=select_choices(REJECT_REASONS.items()),
                        validate_choice=False)
    note = TextAreaField(
        "补充说明", filters=[strip],
        validators=[Optional(), Length(max=NOTE_MAX, message=f"说明不超过{NOTE_MAX}字")],
    )
    approve = SubmitField("审核通过")
    reject = SubmitField("审核不通过")


class AuditSearchForm(FlaskForm):
    """Search of the audit trail (GET, no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    id_number = IdNumberField(check="max")
    actor = StringField("操作人", filters=[strip],
                        validators=[Optional(), Length(max=80, message="内容过长")])
    date_from = DayField("开始日期", validators=[Optional()], render_kw={"type": "date"})
    date_to = DayField("结束日期", validators=[Optional()], render_kw={"type": "date"})
    action = SelectField("操作类型", choices=[], validate_choice=False)


class ResubmitForm(FlaskForm):
    """重新提交: the material type and the new file (checked by the materials service)."""

    material_type = SelectField("材料类型", choices=[], validate_choice=False)
    file = FileField("新的证明材料")
