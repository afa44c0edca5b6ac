"""Forms of registration and login (shape only; the rules live in webapp/accounts/services.py)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp
from wtforms.widgets import PasswordInput

from webapp.accounts.consents import MSG_AGREE, MSG_AGREE_FACE
from webapp.accounts.services import MSG_PASSWORD_RULE
from webapp.forms import ActionForm, IdNumberField, PhoneField


def _name(value):
    """Filter: a name without any whitespace."""
    return "".join(value.split()) if isinstance(value, str) else value


class RegisterForm(FlaskForm):
    """注册: phone, password twice, real name, ID number, the agreement to the 用户协议 and
    隐私政策 and — separately — the consent to the 人脸信息处理规则. A refused form shows again
    with everything typed (the passwords too: the answer is never cached)."""

    phone = PhoneField(required="请输入手机号")
    password = PasswordField(
        "密码",
        widget=PasswordInput(hide_value=False),
        validators=[
            DataRequired("请设置密码"),
            Length(min=8, max=64, message=MSG_PASSWORD_RULE),
            Regexp(r"^(?=.*[A-Za-z])(?=.*\d).+$", message=MSG_PASSWORD_RULE),
        ],
    )
    confirm = PasswordField(
        "确认密码",
        widget=PasswordInput(hide_value=False),
        validators=[DataRequired("请再次输入密码"), EqualTo("password", message="两次输入的密码不一致")],
    )
    name = StringField(
        "姓名",
        filters=[_name],
        validators=[DataRequired("请输入真实姓名"), Length(max=40, message="姓名过长")],
    )
    id_number = IdNumberField(required="请输入身份证号", check="full")
    agree = BooleanField("我已阅读并同意《用户协议》和《隐私政策》",
                         validators=[DataRequired(MSG_AGREE)])
    agree_face = BooleanField("我同意《人脸信息处理规则》，授权在注册和办理重要业务时进行人脸识别",
                              validators=[DataRequired(MSG_AGREE_FACE)])
    next = HiddenField()


class LoginForm(FlaskForm):
    """登录: phone and password (insured people and staff alike)."""

    phone = PhoneField(required="请输入手机号", check=False)
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])
    next = HiddenField()


class LogoutForm(ActionForm):
    """退出登录 (POST with the CSRF token only)."""
