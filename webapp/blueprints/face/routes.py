"""The camera page of the simulated face check and its submission."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, request, url_for

from webapp.blueprints.face import bp, owns_check, remember_check
from webapp.blueprints.face.forms import FaceForm, posted_frames, posted_photo
from webapp.domain import DomainError, NotFound
from webapp.errors import wants_json
from webapp.extensions import limiter
from webapp.face import liveness
from webapp.face import services as face
from webapp.face.notices import MSG_NOT_FOUND
from webapp.face.states import FaceResult
from webapp.models import FaceCheck
from webapp.prg import restore, retry
from webapp.units import duration_text, size_text
from webapp.web import current_actor, safe_next


def load_check(public_id: str) -> FaceCheck:
    """The attempt, only for the browser session that began it and, once logged in, only for
    the account of its person (404 for anyone else)."""
    check = face.get_check(public_id) if owns_check(public_id) else None
    if check is None or not face.belongs_to(check, current_actor()):
        raise NotFound(MSG_NOT_FOUND)
    return check


def restart(check: FaceCheck) -> FaceCheck:
    """A fresh attempt for the same person, purpose and destination (a retry)."""
    fresh = face.begin(face.person_of(check), check.purpose, check.next_url)
    remember_check(fresh.public_id)
    return fresh


def page(check: FaceCheck, form: FaceForm | None = None, error: str | None = None):
    """Render the camera page for a pending attempt."""
    person = face.person_of(check)
    rules = face.rules_for(person)
    form = form or FaceForm(formdata=None)
    form.nonce.data = check.nonce
    return render_template(
        "face/check.html",
        check=check,
        person=person,
        form=form,
        error=error,
        rules=rules,
        steps=liveness.steps(face.actions_of(check)),
        photo_allowed=face.photo_allowed(check, person),
        purpose_text=face.purpose_text(check.purpose),
        valid_text=duration_text(rules.pass_valid_seconds),
        max_text=size_text(rules.photo_max_bytes),
    )


def passed(check: FaceCheck):
    """Continue where the flow that asked for the check wants to go."""
    target = safe_next(check.next_url, url_for("main.index"))
    if wants_json():
        return jsonify(ok=True, next=target)
    return redirect(target)


@bp.route("/<public_id>", methods=["GET"])
def check(public_id: str):
    """人脸识别: round camera preview, the asked actions, 开始识别 (and a photo where allowed)."""
    challenge = load_check(public_id)
    if challenge.result == FaceResult.PASSED:
        return redirect(safe_next(challenge.next_url, url_for("main.index")))
    if challenge.result != FaceResult.PENDING or face.is_expired(challenge):
        fresh = restart(challenge)
        return redirect(url_for("face.check", public_id=fresh.public_id))
    form = FaceForm(formdata=None)
    if restore(form):  # the refusal of the attempt before this one (POST → 303 → here)
        return page(challenge, form=form, error=" ".join(form.form_errors) or None)
    return page(challenge)


@bp.route("/<public_id>", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_FACE"])
def submit(public_id: str):
    """Verify the posted frames (or photo); JSON for the camera script, a page otherwise."""
    challenge = load_check(public_id)
    form = FaceForm()
    rules = face.rules_for(face.person_of(challenge))
    frames = posted_frames(request.files, request.form, rules)
    photo = None if frames else posted_photo(request.files, rules)
    nonce = request.form.get("nonce", "")
    try:
        if photo is not None or (not frames and face.photo_allowed(challenge)):
            face.submit_photo(challenge, nonce, photo or b"", current_actor())
        else:
            face.submit_live(challenge, nonce, frames, current_actor())
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
                steps=liveness.steps(face.actions_of(fresh)),
            ), 422
        form.form_errors.append(err.message)
        return retry(form, url_for("face.check", public_id=fresh.public_id))
    return passed(challenge)
