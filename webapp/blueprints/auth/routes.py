"""Views of accounts: register (→ face check → complete), log in, log out, 我的."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from webapp import clock
from webapp.accounts import consents, documents
from webapp.accounts import services as accounts
from webapp.accounts.services import FACE_PURPOSE, PendingRegistration
from webapp.blueprints.auth import bp
from webapp.blueprints.auth.forms import LogoutForm, RegisterForm
from webapp.blueprints.auth.password_forms import CodeLoginForm, SendLoginCodeForm
from webapp.blueprints.face import start_face_check
from webapp.domain import DomainError
from webapp.extensions import limiter
from webapp.prg import error_page, refused, restore, retry
from webapp.prg import status as prg_status
from webapp.web import attempt, current_actor, safe_next

PENDING_KEY = "pending_registration"
# The phone whose login asks for the SMS code (kept to pre-fill the form after sending one).
LOGIN_PHONE_KEY = "login_phone"
MSG_CODE_SENT = "验证码已发送至该手机号（如已注册），请查收短信"
# How long a filled-in registration waits for its face check (seconds; config may override).
PENDING_SECONDS = 30 * 60


# --- rate limits --------------------------------------------------------------------------

def _sms_limit() -> str:
    return current_app.config["RATELIMIT_SMS_SEND"]


def _register_limit() -> str:
    return current_app.config["RATELIMIT_REGISTER"]


def _target(default_endpoint: str = "main.index") -> str:
    return url_for(default_endpoint)


# --- register -----------------------------------------------------------------------------

@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register():
    """注册 step 1: phone, password, real name and ID number, checked against the registry;
    nothing is written until the face check passes."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), _target()))
    form = RegisterForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), "")
        restore(form)
    if form.validate_on_submit():
        prepared = attempt(
            form,
            accounts.prepare_registration,
            form.phone.data,
            form.password.data,
            form.name.data,
            form.id_number.data,
            form.agree.data,
            form.agree_face.data,
        )
        if prepared is not None:
            person, pending = prepared
            session[PENDING_KEY] = {
                **pending.to_dict(),
                "at": clock.now().isoformat(),
                "next": safe_next(form.next.data, ""),
            }
            return start_face_check(person, FACE_PURPOSE, url_for("auth.register_complete"))
    if request.method == "POST":
        return retry(form)
    return render_template("auth/register.html", form=form)


def _load_pending() -> tuple[PendingRegistration, str] | None:
    """The pending registration of this session and its next URL, if still fresh."""
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    try:
        pending = PendingRegistration.from_dict(data)
        started = datetime.fromisoformat(data["at"])
    except (KeyError, TypeError, ValueError):
        return None
    limit = current_app.config.get("REGISTRATION_PENDING_SECONDS", PENDING_SECONDS)
    if clock.now() - started > timedelta(seconds=limit):
        return None
    return pending, str(data.get("next") or "")


@bp.route("/register/complete")
def register_complete():
    """After the face check: re-check, create the account, log in."""
    loaded = _load_pending()
    if loaded is None:
        session.pop(PENDING_KEY, None)
        flash("注册信息已失效，请重新填写", "warning")
        return redirect(url_for("auth.register"))
    pending, next_url = loaded
    try:
        user = accounts.complete_registration(pending, current_actor())
    except DomainError as err:
        if err.code == "face_required":
            person = accounts.pending_person(pending)
            if person is not None:
                return start_face_check(person, FACE_PURPOSE, url_for("auth.register_complete"))
        session.pop(PENDING_KEY, None)
        form = RegisterForm(
            formdata=None,
            data={"phone": pending.phone, "name": pending.name,
                  "id_number": pending.id_number, "next": next_url,
                  "agree": err.code != "consent_outdated", "agree_face": err.code not in (
                      "consent_outdated", "consent_agree_face")},
        )
        field = getattr(form, err.field, None) if err.field else None
        if field is not None:
            field.errors = [err.message]
        else:
            form.form_errors.append(err.message)
        return render_template("auth/register.html", form=form)
    session.pop(PENDING_KEY, None)
    login_user(user)
    flash("注册成功", "success")
    return redirect(safe_next(next_url, _target()))


# --- log in / out -------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    """登录 with phone and password (insured people and staff on the same form); after repeated
    failures for the phone, the SMS code sent to it is asked for as well."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next"), _target()))
    form = CodeLoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), "")
        form.phone.data = session.get(LOGIN_PHONE_KEY) or None
        restore(form)
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.phone.data, form.password.data, current_actor(),
                                         code=form.code.data)
        except DomainError as err:
            if err.code in ("second_factor", "code_needed"):
                session[LOGIN_PHONE_KEY] = accounts.normalise_phone(form.phone.data)
            if err.code == "address_limited":  # the address waits: the 429 page, on a GET
                return error_page(429)
            # The second factor keeps its 429, answered by the GET the refusal redirects to.
            return refused(form, err.message, status=429 if err.code == "second_factor" else None)
        session.pop(PENDING_KEY, None)
        session.pop(LOGIN_PHONE_KEY, None)
        login_user(user)
        return redirect(safe_next(form.next.data, _target()))
    if request.method == "POST":
        return retry(form)
    form.password.data = ""
    form.code.data = ""
    show_code = bool(session.get(LOGIN_PHONE_KEY)) and (
        session.get(LOGIN_PHONE_KEY) == accounts.normalise_phone(form.phone.data or "")
    )
    return render_template("auth/login.html", form=form, show_code=show_code), prg_status()


@bp.route("/login/code", methods=["POST"])
@limiter.limit(_sms_limit)
def login_code():
    """获取验证码 for the login's second factor (texted only to an account's own phone)."""
    form = SendLoginCodeForm()
    if not form.validate_on_submit():
        for error in form.phone.errors:
            flash(error, "warning")
        return redirect(url_for("auth.login"))
    session[LOGIN_PHONE_KEY] = form.phone.data
    try:
        accounts.send_login_code(form.phone.data)
    except DomainError as err:
        flash(err.message, "warning")
    else:
        flash(MSG_CODE_SENT, "success")
    return redirect(url_for("auth.login"))


@bp.route("/logout", methods=["POST"])
def logout():
    """退出登录 (POST with CSRF only)."""
    if not LogoutForm().validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        accounts.logout(current_user._get_current_object(), current_actor())
        logout_user()
    session.clear()
    flash("已退出登录", "success")
    return redirect(url_for("main.index"))


# --- 我的 -----------------------------------------------------------------------------------

@bp.route("/me")
@login_required
def me():
    """我的: masked identity, insurance, balance, messages, 长辈模式, 退出登录."""
    return render_template("auth/me.html", form=LogoutForm(), person=current_user.person,
                           face_allowed=consents.face_allowed(current_user._get_current_object()),
                           documents=list(documents.DOCUMENTS.values()))
