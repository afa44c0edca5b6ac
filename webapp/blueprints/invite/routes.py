"""The invitation pages.

``/i/<token>`` (invite.show) is the link that is shared; it names the invitation by its random
token. Once the invitee is logged in, the following steps name it by its opaque public id and
are only for that person (404 for anyone else): ``/i/r/<id>`` (view, e.g. from a message),
``/i/r/<id>/accept`` → face check → ``/i/r/<id>/confirm`` → ``/i/r/<id>/done``; and
``/i/r/<id>/decline``. The raw token is never stored, not even in a face check's next URL.

Unknown, expired, used and revoked links, the wrong person and staff accounts each get their
own page (404/410/403) and change nothing.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for
from flask_login import current_user

from webapp.blueprints.auth.forms import LogoutForm
from webapp.blueprints.face import start_face_check
from webapp.blueprints.invite import bp
from webapp.domain import DomainError, NotFound
from webapp.extensions import limiter
from webapp.face import services as face
from webapp.forms import ActionForm
from webapp.invitations import notices
from webapp.invitations import services as invitations
from webapp.invitations.models import Invitation
from webapp.masking import mask_name
from webapp.prg import retry
from webapp.web import current_actor


def _limit() -> str:
    return current_app.config["RATELIMIT_INVITATION"]


def refusal(err: DomainError, inv: Invitation | None = None):
    """The page that says why the invitation cannot be used (nothing changed)."""
    code = err.code if err.code in notices.REFUSALS else "unknown"
    page = notices.refusal(code)
    inviter = inv.inviter if inv is not None and code in notices.NAMES_INVITER else None
    return render_template(
        "invite/problem.html", code=code, refusal=page, message=err.message,
        hint=page.hint_for(mask_name(inviter.name) if inviter else None),
        logout_form=LogoutForm() if code in notices.OFFERS_LOGOUT else None), err.status


REFUSAL_KEY = "_invite_refusal"


def refused_post(err: DomainError, public_id: str):
    """A refused accept / confirm / decline: the same refusal page, shown by the invitation's
    GET after a 303 (with the refusal's status), so that browser back never re-sends it."""
    target = url_for("invite.view", public_id=public_id)
    session[REFUSAL_KEY] = {"path": target, "code": err.code, "message": err.message,
                            "status": err.status}
    return redirect(target, 303)


def kept_refusal(public_id: str):
    """The refusal a POST left for this invitation's page (once), or None."""
    saved = session.get(REFUSAL_KEY)
    if not isinstance(saved, dict) or saved.get("path") != request.path:
        return None
    session.pop(REFUSAL_KEY, None)
    err = DomainError(str(saved.get("message") or ""), code=str(saved.get("code") or "unknown"))
    err.status = int(saved.get("status") or 400)
    return refusal(err, invitations.get(public_id) if err.code != "unknown" else None)


def offer_page(inv: Invitation, template: str = "invite/show.html", status: int = 200, **extra):
    """The invitation page: who invites, the relation, what accepting means, until when."""
    handler = invitations.handler_for(inv.kind)
    return render_template(template, inv=inv, offer=handler.offer(inv), invitee=inv.invitee,
                           form=ActionForm(), **extra), status


def load_mine(public_id: str) -> Invitation:
    """The one loader of the public-id pages: the invitation, for its invitee only (404)."""
    person = invitations.person_of(current_user._get_current_object())
    inv = invitations.get(public_id)
    if inv is None or inv.invitee_person_id != person.id:
        raise NotFound(notices.message("unknown"), code="unknown")
    return inv


def login_needed(public_id: str):
    """Public-id pages need the invitee logged in (then back to the invitation)."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("invite.view", public_id=public_id)))
    return None


# --- the shared link ----------------------------------------------------------------------

@bp.route("/<token>")
def show(token: str):
    """The link a relative receives: details, then 登录/注册 or 同意/拒绝."""
    found = invitations.find(token)
    try:
        inv = invitations.load(token)
        invitations.handler_for(inv.kind).check_open(inv)
    except DomainError as err:
        return refusal(err, found)
    if not current_user.is_authenticated:
        next_url = url_for("invite.show", token=token)
        return offer_page(inv, login_url=url_for("auth.login", next=next_url),
                          register_url=url_for("auth.register", next=next_url))
    try:
        invitations.prepare_answer(inv, current_user._get_current_object())
    except DomainError as err:
        return refusal(err, inv)
    return offer_page(inv)


# --- the invitee's own steps --------------------------------------------------------------

@bp.route("/r/<public_id>")
def view(public_id: str):
    """The invitation for its logged-in invitee (linked from messages and 绑定我的人)."""
    if (response := login_needed(public_id)) is not None:
        return response
    if (response := kept_refusal(public_id)) is not None:
        return response
    try:
        inv = load_mine(public_id)
        invitations.prepare_answer(inv, current_user._get_current_object())
    except DomainError as err:
        return refusal(err, invitations.get(public_id) if err.code != "unknown" else None)
    return offer_page(inv)


@bp.route("/r/<public_id>/accept", methods=["POST"])
@limiter.limit(_limit)
def accept(public_id: str):
    """同意并进行人脸识别: every check, then the face check of the flow's purpose."""
    if (response := login_needed(public_id)) is not None:
        return response
    if not ActionForm().validate_on_submit():
        return redirect(url_for("invite.view", public_id=public_id))
    try:
        inv, person, handler = invitations.prepare_answer(load_mine(public_id),
                                                          current_user._get_current_object())
    except DomainError as err:
        return refused_post(err, public_id)
    target = url_for("invite.confirm", public_id=inv.public_id)
    if face.has_pass(person, handler.face_purpose):
        return redirect(target)
    return start_face_check(person, handler.face_purpose, target)


@bp.route("/r/<public_id>/confirm", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
def confirm(public_id: str):
    """After the face check: confirm; spends the pass, claims the invitation, applies it."""
    if (response := login_needed(public_id)) is not None:
        return response
    try:
        inv, person, handler = invitations.prepare_answer(load_mine(public_id),
                                                          current_user._get_current_object())
    except DomainError as err:
        if request.method == "POST":
            return refused_post(err, public_id)
        return refusal(err, invitations.get(public_id) if err.code != "unknown" else None)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            invitations.accept(inv, current_user._get_current_object(), current_actor())
        except DomainError as err:
            if err.code == "face_required":
                return start_face_check(person, handler.face_purpose,
                                        url_for("invite.confirm", public_id=inv.public_id))
            return refused_post(err, public_id)
        return redirect(url_for("invite.done", public_id=inv.public_id))
    if request.method == "POST":
        return retry(form)
    return offer_page(inv, "invite/confirm.html",
                      face_passed=face.has_pass(person, handler.face_purpose))


@bp.route("/r/<public_id>/decline", methods=["POST"])
@limiter.limit(_limit)
def decline(public_id: str):
    """拒绝 (no face check needed to say no)."""
    if (response := login_needed(public_id)) is not None:
        return response
    if not ActionForm().validate_on_submit():
        return redirect(url_for("invite.view", public_id=public_id))
    try:
        inv = load_mine(public_id)
        invitations.decline(inv, current_user._get_current_object(), current_actor())
    except DomainError as err:
        return refused_post(err, public_id)
    return redirect(url_for("invite.done", public_id=inv.public_id))


@bp.route("/r/<public_id>/done")
def done(public_id: str):
    """The answer's result page, for the invitee."""
    if (response := login_needed(public_id)) is not None:
        return response
    try:
        inv = load_mine(public_id)
    except DomainError as err:
        return refusal(err)
    if inv.used_at is None:
        return redirect(url_for("invite.view", public_id=public_id))
    handler = invitations.handler_for(inv.kind)
    return render_template("invite/done.html", inv=inv, inviter=inv.inviter, offer=handler.offer(inv),
                           next_url=handler.done_url(inv, inv.outcome) or url_for("main.index"))
