"""Forms of the add-member wizard (shape only; the rules live in webapp/kinship/services.py)."""

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length

from webapp.forms import ActionForm, IdNumberField, PhoneField, strip

__all__ = ["ActionForm", "InfoForm", "LetterForm", "MaterialForm", "NoticeForm", "StartForm"]


class StartForm(FlaskForm):
    """Begin (or resume) the wizard with the holder's face check, or start over."""

    start = SubmitField("开始添加")
    restart = SubmitField("重新开始")


class NoticeForm(FlaskForm):
    """家庭成员添加告知书: agree to go on."""

    agree = BooleanField(
        "我已阅读并同意《家庭成员添加告知书》",
        validators=[InputRequired("请阅读并勾选同意告知书")],
    )


class InfoForm(FlaskForm):
    """The relative: name, ID number, relation (choices from the policy), phone."""

    name = StringField(
        "姓名",
        filters=[strip],
        validators=[DataRequired("请输入家庭成员的姓名"), Length(max=40, message="姓名过长")],
    )
    id_number = IdNumberField(required="请输入家庭成员的身份证号")
    relation = SelectField(
        "与您的关系",
        choices=[],
        validate_choice=False,
        validators=[DataRequired("请选择与您的关系")],
    )
    phone = PhoneField(message="请输入11位手机号")
    back = SubmitField("上一步")


class MaterialForm(FlaskForm):
    """Choose the material type and upload its pages (JPG/PNG/PDF, each checked by content);
    ``remove`` carries the public id of a page to delete, ``upload`` stays on the step."""

    material_type = SelectField(
        "材料类型", choices=[], validate_choice=False,
        validators=[DataRequired("请选择材料类型")],
    )
    file = MultipleFileField("上传材料")
    remove = StringField("删除页面")
    upload = SubmitField("上传所选页面")
    back = SubmitField("上一步")


class LetterForm(FlaskForm):
    """个人承诺书: typed real name and a drawn signature (PNG data URL)."""

    typed_name = StringField(
        "签署人姓名",
        filters=[strip],
        validators=[DataRequired("请输入您的真实姓名"), Length(max=40, message="姓名过长")],
    )
    signature = HiddenField("手写签名")
    back = SubmitField("上一步")
