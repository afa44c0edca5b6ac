"""Views of the versioned documents, consents (update, face-data withdrawal) and 注销账户."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user

from webapp.accounts import closure, consents, documents
from webapp.accounts.queries import closure_preview, closure_sections
from webapp.accounts.states import FACE
from webapp.blueprints.auth import bp
from webapp.blueprints.auth.account_forms import (
    CloseAccountForm,
    ConsentUpdateForm,
    FaceGiveForm,
    FaceWithdrawForm,
)
from webapp.extensions import limiter
from webapp.kinship.letters import blocks
from webapp.prg import restore, retry
from webapp.web import attempt, current_actor, safe_next

# Session key: "<user>|<versions>" once the user is known to have accepted the current texts.
CONSENTS_OK = "consents_ok"
# Pages reachable while a new version waits for acceptance.
UNGATED = {"static", "auth.consents", "auth.document", "auth.logout", "auth.login",
           "auth.close_account", "auth.face_consent"}


# --- the documents --------------------------------------------------------------------------

@bp.route("/documents/<kind>")
@bp.route("/documents/<kind>/<version>")
def document(kind: str, version: str | None = None):
    """用户协议 / 隐私政策 / 人脸信息处理规则: the current version, or an earlier one kept."""
    if kind not in documents.DOCUMENTS:
        abort(404)
    doc = documents.document(kind)
    version = version or doc.version
    if not documents.exists(kind, version):
        abort(404)
    return render_template("auth/document.html", doc=doc, version=version,
                           blocks=blocks(documents.text(kind, version)))


# --- a new version to accept ----------------------------------------------------------------

def _gate_key() -> str:
    versions = ",".join(f"{k}:{v}" for k, v in sorted(documents.current_versions().items()))
    return f"{current_user.get_id()}|{versions}"


@bp.before_app_request
def consent_gate():
    """A logged-in user who accepted an older version of a document is asked to accept the
    new one before any other page (checked once per session and version set)."""
    if request.blueprint == "api" or request.endpoint in UNGATED or request.endpoint is None:
        return None
    if request.method != "GET" or not documents.renewed() or not current_user.is_authenticated:
        return None
    key = _gate_key()
    if session.get(CONSENTS_OK) == key:
        return None
    if consents.outdated(current_user._get_current_object()):
        return redirect(url_for("auth.consents", next=request.full_path.rstrip("?")))
    session[CONSENTS_OK] = key
    return None


@bp.route("/consents", methods=["GET", "POST"], endpoint="consents")
@login_required
def consents_update():
    """协议更新: the documents whose new version the user has not accepted yet."""
    user = current_user._get_current_object()
    form = ConsentUpdateForm()
    after = safe_next(request.args.get("next"), url_for("main.index"))
    due = consents.outdated(user)
    if not due and request.method == "GET":
        return redirect(after)
    restore(form)
    if form.validate_on_submit():
        done = attempt(form, consents.accept_current, user, [d.kind for d in due],
                       current_actor())
        if done is not None:
            session[CONSENTS_OK] = _gate_key()
            flash("已同意更新后的协议", "success")
            return redirect(after)
    if request.method == "POST":
        return retry(form)
    return render_template("auth/consents_update.html", form=form, due=due,
                           accepted=consents.latest(user))


# --- face-data consent ----------------------------------------------------------------------

@bp.route("/face-consent", methods=["GET", "POST"])
@login_required
def face_consent():
    """人脸信息授权: what it is for, the version agreed, withdraw (password) or give again."""
    user = current_user._get_current_object()
    withdraw, give = FaceWithdrawForm(prefix="w"), FaceGiveForm(prefix="g")
    if request.method == "POST":
        if request.form.get("action") == "withdraw" and withdraw.validate_on_submit():
            if attempt(withdraw, consents.withdraw_face, user, withdraw.password.data,
                       current_actor()) is not None:
                flash("已撤回人脸信息处理的同意", "success")
                return redirect(url_for("auth.face_consent"))
        elif request.form.get("action") == "give" and give.validate_on_submit():
            if attempt(give, consents.give_face, user, current_actor()) is not None:
                flash("已同意人脸信息处理规则", "success")
                return redirect(url_for("auth.face_consent"))
        return retry(give if request.form.get("action") == "give" else withdraw)
    restore(withdraw, give)
    withdraw.password.data = ""
    return render_template("auth/face_consent.html", withdraw=withdraw, give=give,
                           row=consents.latest(user).get(FACE), doc=documents.document(FACE),
                           allowed=consents.face_allowed(user))


# --- 注销账户 --------------------------------------------------------------------------------

@bp.route("/close", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour", methods=["POST"])
def close_account():
    """注销账户: says what will happen, then asks for the password and the confirmation."""
    user = current_user._get_current_object()
    if user.person is None:
        abort(403)
    form = CloseAccountForm()
    restore(form)
    if form.validate_on_submit():
        result = attempt(form, closure.close_account, user, form.password.data,
                         form.confirm.data, current_actor())
        if result is not None:
            logout_user()
            session.clear()
            flash("账户已注销。相关绑定和家庭共济已解除，对方已收到消息；结算和操作记录依法保存。",
                  "success")
            return redirect(url_for("main.index"))
    if request.method == "POST":
        return retry(form)
    form.password.data = ""
    return render_template("auth/close_account.html", form=form,
                           sections=closure_sections(closure_preview(user.person)))
