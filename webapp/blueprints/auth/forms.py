"""Forms of registration and login (shape only; the rules live in services/accounts.py)."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError

from webapp.accounts.services import MSG_PASSWORD_RULE, MSG_PHONE_FORMAT
from webapp.idnumber import IdNumberError, normalise, parse_id_number


def _phone(value):
    return normalise(value).replace("-", "") if isinstance(value, str) else value


def _name(value):
    return "".join(value.split()) if isinstance(value, str) else value


def _id_number(value):
    return normalise(value) if isinstance(value, str) else value


def _valid_id_number(form, field):
    """The ID number's own reason (length, check character, birth date …) on the field."""
    if not field.data:
        return
    try:
        parse_id_number(field.data)
    except IdNumberError as err:
        raise ValidationError(err.reason) from None


class RegisterForm(FlaskForm):
    """注册: phone, password twice, real name, ID number."""

    phone = StringField(
        "手机号",
        filters=[_phone],
        validators=[DataRequired("请输入手机号"), Regexp(r"^1[3-9]\d{9}$", message=MSG_PHONE_FORMAT)],
    )
    password = PasswordField(
        "密码",
        validators=[
            DataRequired("请设置密码"),
            Length(min=8, max=64, message=MSG_PASSWORD_RULE),
            Regexp(r"^(?=.*[A-Za-z])(?=.*\d).+$", message=MSG_PASSWORD_RULE),
        ],
    )
    confirm = PasswordField(
        "确认密码",
        validators=[DataRequired("请再次输入密码"), EqualTo("password", message="两次输入的密码不一致")],
    )
    name = StringField(
        "姓名",
        filters=[_name],
        validators=[DataRequired("请输入真实姓名"), Length(max=40, message="姓名过长")],
    )
    id_number = StringField(
        "身份证号",
        filters=[_id_number],
        validators=[DataRequired("请输入身份证号"), _valid_id_number],
    )
    next = HiddenField()


class LoginForm(FlaskForm):
    """登录: phone and password (insured people and staff alike)."""

    phone = StringField("手机号", filters=[_phone], validators=[DataRequired("请输入手机号")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """退出登录 (POST with the CSRF token only)."""
