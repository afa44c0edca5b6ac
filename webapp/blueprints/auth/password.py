"""Views of 忘记密码 and 修改密码 (each with an SMS code) and the development SMS outbox page."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from webapp.accounts import passwords
from webapp.blueprints.auth import bp
from webapp.blueprints.auth.password_forms import ChangePasswordForm, ForgotForm, ResetForm
from webapp.domain import DomainError
from webapp.extensions import limiter
from webapp.forms import ActionForm
from webapp.prg import restore, retry
from webapp.sessions import current_sid_hash
from webapp.sms import outbox
from webapp.web import attempt, current_actor

RESET_PHONE_KEY = "reset_phone"
MSG_RESET_SENT = "如该手机号已注册，验证码已发送，请查收短信"
MSG_CHANGE_SENT = "验证码已发送至您的手机，请查收短信"


def _sms_limit() -> str:
    return current_app.config["RATELIMIT_SMS_SEND"]


# --- 忘记密码 --------------------------------------------------------------------------------

@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """忘记密码: the phone, 获取验证码, then the code and a new password."""
    form = ResetForm()
    if not form.is_submitted():
        form.phone.data = session.get(RESET_PHONE_KEY) or None
        restore(form)
    elif form.validate():
        user = attempt(form, passwords.reset_password, form.phone.data, form.code.data,
                       form.password.data, current_actor())
        if user is not None:
            session.pop(RESET_PHONE_KEY, None)
            flash("密码已重置，请使用新密码登录", "success")
            return redirect(url_for("auth.login"))
    if request.method == "POST":
        return retry(form)
    return render_template("auth/forgot_password.html", form=form,
                           sent=bool(session.get(RESET_PHONE_KEY)))


@bp.route("/password/forgot/code", methods=["POST"])
@limiter.limit(_sms_limit)
def forgot_password_code():
    """获取验证码 for 忘记密码 (the same answer whether or not the phone has an account)."""
    form = ForgotForm()
    if not form.validate_on_submit():
        for error in form.phone.errors:
            flash(error, "warning")
        return redirect(url_for("auth.forgot_password"))
    session[RESET_PHONE_KEY] = form.phone.data
    try:
        passwords.send_reset_code(form.phone.data)
    except DomainError as err:
        flash(err.message, "warning")
    else:
        flash(MSG_RESET_SENT, "success")
    return redirect(url_for("auth.forgot_password"))


# --- 修改密码 --------------------------------------------------------------------------------

@bp.route("/password/change", methods=["GET", "POST"])
@login_required
def change_password():
    """修改密码 with the code texted to one's own phone; other devices are logged out."""
    form = ChangePasswordForm()
    restore(form)
    if form.validate_on_submit():
        done = attempt(form, _change, form)
        if done:
            flash("密码已修改，其他设备上的登录已退出", "success")
            return redirect(url_for("auth.me"))
    if request.method == "POST":
        return retry(form)
    return render_template("auth/change_password.html", form=form)


def _change(form: ChangePasswordForm) -> bool:
    passwords.change_password(current_user._get_current_object(), form.code.data,
                              form.password.data, current_actor(), current_sid_hash())
    return True


@bp.route("/password/change/code", methods=["POST"])
@login_required
@limiter.limit(_sms_limit)
def change_password_code():
    """获取验证码 for 修改密码."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        passwords.send_change_code(current_user._get_current_object())
    except DomainError as err:
        flash(err.message, "warning")
    else:
        flash(MSG_CHANGE_SENT, "success")
    return redirect(url_for("auth.change_password"))


# --- development outbox ---------------------------------------------------------------------

@bp.route("/dev/sms")
def sms_outbox():
    """开发用短信发件箱 (404 unless config SMS_OUTBOX_PAGE is on: development only)."""
    if not current_app.config.get("SMS_OUTBOX_PAGE"):
        abort(404)
    return render_template("auth/sms_outbox.html", messages=outbox.latest(50))
