"""Forms of the consent pages and 注销账户 (shape only; rules in webapp/accounts/)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired

from webapp.accounts.closure import MSG_CONFIRM
from webapp.accounts.consents import MSG_OUTDATED


class ConsentUpdateForm(FlaskForm):
    """Accept the new versions of the documents listed on the page."""

    agree = BooleanField("我已阅读并同意以上更新后的协议", validators=[DataRequired(MSG_OUTDATED)])


class FaceWithdrawForm(FlaskForm):
    """撤回人脸信息处理的同意 (with the password)."""

    password = PasswordField("登录密码", validators=[DataRequired("请输入登录密码")])


class FaceGiveForm(FlaskForm):
    """重新同意人脸信息处理规则."""

    agree_face = BooleanField("我同意《人脸信息处理规则》",
                              validators=[DataRequired("请勾选同意《人脸信息处理规则》")])


class CloseAccountForm(FlaskForm):
    """注销账户: the password and the explicit confirmation."""

    password = PasswordField("登录密码", validators=[DataRequired("请输入登录密码")])
    confirm = BooleanField("我已阅读以上说明，确认注销账户，注销后不能恢复",
                           validators=[DataRequired(MSG_CONFIRM)])
