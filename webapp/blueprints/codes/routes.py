"""医保码 views: the person picker, one code page, and its JSON refresh / status endpoints."""

from __future__ import annotations

from flask import current_app, jsonify, make_response, render_template, request, url_for
from flask_login import current_user

from webapp.blueprints.codes import bp
from webapp.codes import polling
from webapp.codes import services as codes
from webapp.codes import status as code_status
from webapp.domain import DomainError
from webapp.extensions import csrf, limiter
from webapp.kinship.access import showable_people
from webapp.readonly import one_write, read_only
from webapp.sessions import without_session
from webapp.templating import unread_messages
from webapp.web import current_actor, no_store, role_required


def json_error(err: DomainError):
    """A DomainError as the JSON body the page script understands."""
    return no_store(make_response(
        jsonify(error={"code": err.code, "message": err.message}), err.status
    ))


@bp.route("/")
@role_required("insured")
def index():
    """医保码: myself and every 已绑定 relative, each leading to their code page."""
    choices = [
        codes.Subject(binding.public_id if binding else codes.ME, person, binding)
        for person, binding in showable_people(current_user.person)
    ]
    return render_template("codes/index.html", choices=choices,
                           refresh_seconds=codes.code_rules(current_user.person).refresh_seconds)


@bp.route("/<subject>")
@one_write  # the code's INSERT, on PostgreSQL without BEGIN / COMMIT (webapp/readonly.py)
@role_required("insured")
def show(subject: str):
    """One code page: QR, masked name and ID, countdown; scripts refresh and poll it."""
    who = codes.resolve_subject(current_user.person, subject)
    # The tab bar's unread count, read before the code's INSERT commits: read after it (when
    # the code was a relative's, in a transaction), it would open a second transaction.
    unread_messages()
    issued = codes.issue_code(current_user, subject, current_actor())
    response = make_response(render_template(
        "codes/show.html", who=who, issued=issued, qr=codes.qr_svg(issued.code),
        refresh_url=url_for("codes.refresh", subject=subject),
        status_url=url_for("codes.status", subject=subject),
        keep_codes=codes.codes_to_watch(codes.code_rules(who.person)),
    ))
    return no_store(response)


@bp.route("/<subject>/refresh", methods=["POST"])
@one_write
@role_required("insured")
def refresh(subject: str):
    """A fresh code as JSON (POST with the CSRF header); 403/404 JSON when no longer allowed."""
    try:
        issued = codes.issue_code(current_user, subject, current_actor())
    except DomainError as err:
        return json_error(err)
    return no_store(jsonify(issued.as_json()))


@limiter.request_filter
def _token_polls_are_not_rate_limited() -> bool:
    """No limit applies to the poll; a token poll skips even the limiter's bookkeeping."""
    return request.endpoint == "codes.status" and polling.has_grant()


@bp.route("/<subject>/status", methods=["POST"])
@csrf.exempt  # the poll token authenticates; without one the CSRF header is checked below
@read_only
@without_session(polling.has_grant)
def status(subject: str):
    """What became of the codes this page showed (form c=CODE&c=CODE, newest last; w=SETTLEMENT
    for payments already announced, to learn of a later cancellation).

    The page sends its poll token (``X-Poll-Token``, webapp/codes/polling.py): then no
    session is loaded. Without a valid one: the session's insured user and the CSRF header,
    like every other POST. POST so that live codes never appear in URLs or access logs.
    """
    shown = request.form.getlist("c")
    watch = request.form.getlist("w")
    grant = polling.request_grant()
    if grant is None:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()  # what CSRFProtect's before-request hook does for every POST
        return _status_of_session_user(subject, shown, watch)
    return no_store(jsonify(code_status.status_of(grant.user_id, grant.person_id, grant.keep,
                                                  shown, watch)))


@role_required("insured")
def _status_of_session_user(subject: str, shown: list[str], watch: list[str]):
    try:
        result = code_status.code_status(current_user, subject, shown, watch)
    except DomainError as err:
        return json_error(err)
    return no_store(jsonify(result))
