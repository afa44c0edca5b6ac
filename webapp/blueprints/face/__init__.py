"""人脸识别 (simulated face check): the camera page, and the helper other flows call.

Other flows say "face check for purpose X, then continue at Y" with::

    from webapp.blueprints.face import start_face_check
    return start_face_check(person, "kinship_add", url_for("family.add_notice"))

and later spend the pass with ``webapp.face.services.consume(person, purpose)``.
"""

from flask import Blueprint, redirect, session, url_for

bp = Blueprint("face", __name__, url_prefix="/face")

SESSION_KEY = "face_checks"
# How many open challenges one browser session may hold (several tabs, retries).
SESSION_KEEP = 5


def remember_check(public_id: str) -> None:
    """Bind a challenge to this browser session (only it may use the challenge)."""
    kept = [p for p in session.get(SESSION_KEY, []) if p != public_id]
    session[SESSION_KEY] = [*kept[-(SESSION_KEEP - 1):], public_id]


def owns_check(public_id: str) -> bool:
    """Whether this browser session began the challenge."""
    return public_id in session.get(SESSION_KEY, [])


def start_face_check(person, purpose: str, next_url: str):
    """Begin a face check for ``purpose`` and redirect to the camera page; after a pass the
    person continues at ``next_url`` (a local path)."""
    from webapp.face import services as face

    refused = _face_consent_withdrawn()
    if refused is not None:
        return refused
    check = face.begin(person, purpose, next_url)
    remember_check(check.public_id)
    return redirect(url_for("face.check", public_id=check.public_id))


def _face_consent_withdrawn():
    """A logged-in user who withdrew the face-data consent is sent to give it again."""
    from flask import flash
    from flask_login import current_user

    from webapp.accounts.consents import MSG_FACE_NEEDED, face_allowed

    if current_user.is_authenticated and not face_allowed(current_user._get_current_object()):
        flash(MSG_FACE_NEEDED, "warning")
        return redirect(url_for("auth.face_consent"))
    return None


from webapp.blueprints.face import routes  # noqa: E402,F401
