"""Forms of the pharmacy pages: the scanned / typed code, and amount + items to settle."""

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from webapp.codes.settlement import ITEMS_MAX


class ScanForm(FlaskForm):
    """The code as a scanner gun, the camera script or a person typed it."""

    code = StringField("医保码", validators=[DataRequired("请扫描或输入医保码"), Length(max=64)])


class SettleForm(FlaskForm):
    """Amount in yuan (checked exactly by the settlement service) and what was bought."""

    amount = StringField("金额（元）", validators=[DataRequired("请输入金额")])
    items = TextAreaField(
        "药品/项目",
        validators=[DataRequired("请填写药品或项目"),
                    Length(max=ITEMS_MAX, message=f"药品或项目不能超过{ITEMS_MAX}个字")],
    )
