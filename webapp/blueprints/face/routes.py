"""The camera page of the simulated face check and its submission."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request, url_for

from webapp.blueprints.face import bp, owns_check, remember_check
from webapp.blueprints.face.forms import FaceForm
from webapp.domain import DomainError, NotFound
from webapp.errors import wants_json
from webapp.extensions import limiter
from webapp.face import services as face
from webapp.face.states import FaceResult
from webapp.models import FaceCheck
from webapp.units import duration_text, size_text
from webapp.web import current_actor, safe_next


def load_check(public_id: str) -> FaceCheck:
    """The challenge, only for the browser session that began it (404 for anyone else)."""
    check = face.get_check(public_id) if owns_check(public_id) else None
    if check is None:
        raise NotFound("该人脸识别请求不存在或已失效，请返回重新操作")
    return check


def restart(check: FaceCheck) -> FaceCheck:
    """A fresh challenge for the same person, purpose and destination (a retry)."""
    fresh = face.begin(face.person_of(check), check.purpose, check.next_url)
    remember_check(fresh.public_id)
    return fresh


def page(check: FaceCheck, form: FaceForm | None = None, error: str | None = None):
    """Render the camera page for a pending challenge."""
    person = face.person_of(check)
    form = form or FaceForm(formdata=None)
    form.nonce.data = check.nonce
    return render_template(
        "face/check.html",
        check=check,
        person=person,
        form=form,
        error=error,
        purpose_text=face.purpose_text(check.purpose),
        valid_text=duration_text(face.pass_valid_seconds(person)),
        max_text=size_text(face.DEFAULT_VERIFIER.max_bytes),
    )


def passed(check: FaceCheck):
    """Continue where the flow that asked for the check wants to go."""
    target = safe_next(check.next_url, url_for("main.index"))
    if wants_json():
        return jsonify(ok=True, next=target)
    return redirect(target)


@bp.route("/<public_id>", methods=["GET"])
def check(public_id: str):
    """人脸识别: round camera preview, 开始识别, and a photo fallback."""
    challenge = load_check(public_id)
    if challenge.result == FaceResult.PASSED:
        return redirect(safe_next(challenge.next_url, url_for("main.index")))
    if challenge.result != FaceResult.PENDING or face.is_expired(challenge):
        fresh = restart(challenge)
        return redirect(url_for("face.check", public_id=fresh.public_id))
    return page(challenge)


@bp.route("/<public_id>", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_FACE"])
def submit(public_id: str):
    """Verify the posted frame; JSON for the camera script, a page for the plain form."""
    challenge = load_check(public_id)
    form = FaceForm()
    upload = request.files.get("image")
    data = upload.read() if upload else b""
    try:
        face.submit(challenge, request.form.get("nonce", ""), data, current_actor())
    except DomainError as err:  # rolled back; challenge shows its stored state
        if challenge.result == FaceResult.PASSED:  # a double submit of a check that already passed
            return passed(challenge)
        fresh = restart(challenge)
        if wants_json():
            return jsonify(
                ok=False,
                error=err.message,
                action=url_for("face.submit", public_id=fresh.public_id),
                nonce=fresh.nonce,
            ), 422
        return page(fresh, form=form, error=err.message)
    return passed(challenge)
