"""Forms of the SMS-code steps: the login's second factor, 忘记密码, 修改密码 (shape only)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from webapp.accounts.services import MSG_PASSWORD_RULE
from webapp.blueprints.auth.forms import LoginForm
from webapp.forms import PhoneField, strip

CODE_MESSAGE = "请输入短信验证码"


def _new_password() -> PasswordField:
    return PasswordField(
        "新密码",
        validators=[
            DataRequired("请设置新密码"),
            Length(min=8, max=64, message=MSG_PASSWORD_RULE),
            Regexp(r"^(?=.*[A-Za-z])(?=.*\d).+$", message=MSG_PASSWORD_RULE),
        ],
    )


def _confirm() -> PasswordField:
    return PasswordField(
        "确认新密码",
        validators=[DataRequired("请再次输入新密码"),
                    EqualTo("password", message="两次输入的密码不一致")],
    )


def _code(required: bool = True) -> StringField:
    chain = [DataRequired(CODE_MESSAGE)] if required else [Optional()]
    return StringField("验证码", filters=[strip], validators=[*chain, Length(max=12)])


class CodeLoginForm(LoginForm):
    """登录 with the SMS code besides the password (asked after repeated failures)."""

    code = _code(required=False)


class SendLoginCodeForm(FlaskForm):
    """获取验证码 on the login page: the phone typed."""

    phone = PhoneField(required="请输入手机号")


class ForgotForm(FlaskForm):
    """忘记密码 step 1: the account's phone."""

    phone = PhoneField(required="请输入手机号")


class ResetForm(FlaskForm):
    """忘记密码 step 2: the code, the new password twice."""

    phone = PhoneField(required="请输入手机号")
    code = _code()
    password = _new_password()
    confirm = _confirm()


class ChangePasswordForm(FlaskForm):
    """修改密码: the code texted to one's own phone, the new password twice."""

    code = _code()
    password = _new_password()
    confirm = _confirm()
