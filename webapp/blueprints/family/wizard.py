"""The add-member wizard, one step a page: face check → 告知书 → 成员信息 → 证明材料 → 承诺书 → 结果.

The draft (typed values, the uploaded material's public id) lives in the Flask session under
``kinship_add``; nothing but the uploaded file exists in the database until the letter step
completes, which creates the letter and the binding in one transaction.
"""

from __future__ import annotations

from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user, login_required

from webapp import clock
from webapp.blueprints.face import start_face_check
from webapp.blueprints.family import bp
from webapp.blueprints.family.forms import (
    InfoForm,
    LetterForm,
    NoticeForm,
    StartForm,
)
from webapp.blueprints.invite.share import invite_share
from webapp.extensions import limiter
from webapp.face import services as face
from webapp.forms import select_choices
from webapp.idnumber import IdNumberError, parse_id_number
from webapp.kinship import letters, materials, queries
from webapp.kinship import pages as material_pages
from webapp.kinship import services as kinship
from webapp.kinship.states import BindingStatus
from webapp.policy import relation_label
from webapp.prg import restore, retry
from webapp.services_catalog import service_url
from webapp.web import attempt, current_actor, no_store, role_required

PURPOSE = "kinship_add"
DRAFT = "kinship_add"
RESULT = "kinship_add_result"
STEPS = ["人脸识别", "告知书", "成员信息", "上传材料", "承诺书", "完成"]
INFO_FIELDS = ("name", "id_number", "relation", "phone")


# --- the draft ---------------------------------------------------------------------------

def holder():
    """The logged-in insured person."""
    return current_user.person


def load_draft() -> dict:
    """The current user's draft (a foreign or missing draft is a fresh one)."""
    draft = session.get(DRAFT)
    if not isinstance(draft, dict) or draft.get("user") != current_user.get_id():
        return {"user": current_user.get_id()}
    return dict(draft)


def save_draft(draft: dict) -> None:
    """Store the draft back into the session."""
    session[DRAFT] = draft


def clear_draft(discard_material: bool = True) -> None:
    """Forget the draft (and delete its unused upload)."""
    draft = load_draft()
    if discard_material:
        material_pages.discard_set(holder(), draft.get("material_set"), draft.get("material"))
    session.pop(DRAFT, None)


def rules():
    """The kinship policy of the holder's region."""
    return kinship.rules_for(holder())


def first_missing(draft: dict) -> str:
    """The endpoint of the first step the draft has not completed."""
    if draft.get("notice") != rules().notice_version:
        return "family.add_notice"
    if not draft.get("info_done"):
        return "family.add_info"
    if not draft.get("material"):
        return "family.add_material"
    return "family.add_letter"


ORDER = ["family.add_notice", "family.add_info", "family.add_material", "family.add_letter"]


def guard(endpoint: str):
    """Redirect when the face pass expired or an earlier step is missing; None to proceed."""
    draft = load_draft()
    if not face.has_pass(holder(), PURPOSE):
        if len(draft) == 1:  # never started: begin at the start page
            return redirect(url_for("family.add_start"))
        flash("人脸识别已超过有效时间，请重新完成人脸识别，已填写的内容会保留", "warning")
        return start_face_check(holder(), PURPOSE, url_for(endpoint))
    missing = first_missing(draft)
    if ORDER.index(missing) < ORDER.index(endpoint):
        return redirect(url_for(missing))
    return None


def page(template: str, step: int, **context):
    """Render a wizard step with the progress indicator (and whether the region reviews)."""
    context.setdefault("review_required", rules().review_required)
    return render_template(template, steps=STEPS, step=step, **context)


# --- steps -------------------------------------------------------------------------------

@bp.route("/add/", methods=["GET", "POST"])
@role_required("insured")
def add_start():
    """Step 1: what the wizard does, the member counter; start or resume with a face check."""
    form = StartForm()
    draft = load_draft()
    if form.validate_on_submit():
        if form.restart.data:
            clear_draft()
            flash("已清除上次填写的内容，请重新开始")
            return redirect(url_for("family.add_start"))
        session.pop(RESULT, None)
        save_draft(draft)
        target = url_for(first_missing(draft))
        if face.has_pass(holder(), PURPOSE):
            return redirect(target)
        return start_face_check(holder(), PURPOSE, target)
    if request.method == "POST":
        return retry(form)
    in_progress = len(draft) > 1
    room = queries.room(holder())
    return page("family/wizard_start.html", 1, form=form, in_progress=in_progress,
                counter=room.text, full=room.full, rules=rules())


@bp.route("/add/notice", methods=["GET", "POST"])
@role_required("insured")
def add_notice():
    """Step 2: the 家庭成员添加告知书 (versioned) — agree to go on."""
    if (response := guard("family.add_notice")) is not None:
        return response
    version = rules().notice_version
    draft = load_draft()
    form = NoticeForm(agree=draft.get("notice") == version)
    if form.validate_on_submit():
        if draft.get("notice") != version:
            kinship.agree_notice(holder(), version, current_actor())
        draft["notice"] = version
        save_draft(draft)
        return redirect(url_for("family.add_info"))
    if request.method == "POST":
        return retry(form)
    restore(form)
    return page("family/wizard_notice.html", 2, form=form, version=version,
                blocks=letters.blocks(letters.notice_text(version, rules())))


def relation_choices() -> list[tuple[str, str]]:
    """The relations of the holder's policy, with Chinese labels."""
    return [("", "请选择")] + [(code, relation_label(code)) for code in rules().relations]


@bp.route("/add/info", methods=["GET", "POST"])
@role_required("insured")
def add_info():
    """Step 3: the relative's name, ID number, relation and phone, checked against every rule."""
    if (response := guard("family.add_info")) is not None:
        return response
    draft = load_draft()
    form = InfoForm(data={k: draft.get(k, "") for k in INFO_FIELDS})
    form.relation.choices = select_choices(relation_choices())
    preview = None
    if request.method == "POST" and form.back.data:
        draft.update({k: (getattr(form, k).data or "")[:40] for k in INFO_FIELDS})
        save_draft(draft)
        return redirect(url_for("family.add_notice"))
    if form.validate_on_submit():
        values = {k: getattr(form, k).data or "" for k in INFO_FIELDS}
        relative = attempt(form, kinship.check_relative, holder(), values["name"],
                           values["id_number"], values["relation"])
        if relative is not None:
            changed = any(draft.get(k) != values[k] for k in ("id_number", "relation"))
            if changed and draft.get("material"):
                material_pages.discard_set(holder(), draft.pop("material_set", None),
                                           draft.pop("material"))
            draft.update(values, info_done=True)
            save_draft(draft)
            return redirect(url_for("family.add_material"))
    if request.method == "POST":
        draft.update({k: (getattr(form, k).data or "")[:40] for k in INFO_FIELDS}, info_done=False)
        save_draft(draft)
        return retry(form)
    if restore(form):
        preview = kinship.preview(holder(), form.name.data or "", form.id_number.data or "",
                                  form.relation.data or "")
    return page("family/wizard_info.html", 3, form=form, preview=preview,
                counter=queries.room(holder()).text)


@bp.route("/add/preview", methods=["POST"])
@role_required("insured")
@limiter.limit(lambda: current_app.config.get("RATELIMIT_KINSHIP_PREVIEW", "30 per minute"),
               key_func=lambda: current_user.get_id() or request.remote_addr or "")
def add_preview():
    """What the app knows about the typed relative — Chinese strings, no personal data.

    Only inside a face-checked wizard, so that it cannot serve as a registry lookup.
    """
    if not face.has_pass(holder(), PURPOSE):
        return jsonify(error={"code": "face_required", "message": "请先完成人脸识别"}), 403
    form = InfoForm()
    result = kinship.preview(holder(), form.name.data or "", form.id_number.data or "",
                             form.relation.data or "")
    return no_store(jsonify(result.as_json()))


def draft_relative(draft: dict) -> tuple[bool, list[str]]:
    """Whether the drafted relative is under the self-confirm age, and the accepted materials."""
    try:
        info = parse_id_number(draft.get("id_number", ""))
    except IdNumberError:
        return False, []
    under_age = info.age_on(clock.today()) < rules().self_confirm_age
    return under_age, list(rules().materials_for(draft.get("relation", ""), under_age))


@bp.route("/add/letter", methods=["GET", "POST"])
@role_required("insured")
def add_letter():
    """Step 5: the 个人承诺书 in full, typed real name, drawn signature → the binding."""
    if (response := guard("family.add_letter")) is not None:
        return response
    draft = load_draft()
    version = rules().letter_version
    form = LetterForm(typed_name=draft.get("typed_name", ""))
    if request.method == "POST" and form.back.data:
        draft["typed_name"] = (form.typed_name.data or "")[:40]
        save_draft(draft)
        return redirect(url_for("family.add_material"))
    if form.validate_on_submit():
        draft["typed_name"] = form.typed_name.data
        save_draft(draft)
        done = attempt(
            form, kinship.complete_binding, holder(), draft["name"], draft["id_number"],
            draft["relation"], materials.owned(holder(), draft.get("material")),
            form.typed_name.data, form.signature.data or "", current_actor(),
            phone=draft.get("phone", ""),
        )
        if done is not None:
            clear_draft(discard_material=False)
            session[RESULT] = {"binding": done.binding.public_id, "token": done.token}
            return redirect(url_for("family.add_result"))
    if request.method == "POST":
        return retry(form)
    restore(form)
    return page("family/wizard_letter.html", 5, form=form, version=version, draft=draft,
                blocks=letters.blocks(letters.letter_text(version)),
                relation=relation_label(draft.get("relation", "")))


@bp.route("/add/result")
@role_required("insured")
def add_result():
    """Step 6: bound, waiting for review, or an invitation link (+ QR) for a relative of 16+."""
    result = session.get(RESULT)
    if not isinstance(result, dict):
        return redirect(service_url("kinship"))
    done = queries.wizard_result(holder(), result.get("binding"))
    if done is None:
        return redirect(service_url("kinship"))
    share = None
    if done.binding.status == BindingStatus.PENDING_CONFIRM and result.get("token"):
        share = invite_share(result["token"], f"{holder().name}邀请您成为其医保亲情账户家庭成员")
    return page("family/wizard_result.html", 6, binding=done.binding, share=share,
                relation=done.relation, family_url=service_url("kinship"),
                self_confirm_age=rules().self_confirm_age, expires_at=done.expires_at)


# --- private files -----------------------------------------------------------------------

def private_headers(response):
    """Headers for a private file: inline, no sniffing, never cached."""
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return no_store(response)


@bp.route("/materials/<public_id>")
@login_required
def material_file(public_id: str):
    """An uploaded material, for the holder who uploaded it and reviewers (404 otherwise)."""
    found = materials.file_for(current_user, public_id, current_actor())
    response = send_file(found.path, mimetype=found.material.content_type, etag=False,
                         last_modified=None, max_age=0, conditional=False)
    response = private_headers(response)
    response.headers["Content-Disposition"] = found.disposition  # PDFs: attachment
    return response


@bp.route("/letters/<public_id>")
@login_required
def letter(public_id: str):
    """A signed 承诺书: the text of its version, the typed name, the signature, when."""
    signed = letters.letter_for(current_user, public_id)
    binding = queries.binding_of_letter(signed.id)
    text = letters.letter_text(signed.version)
    response = current_app.make_response(render_template(
        "family/letter.html", letter=signed, binding=binding, blocks=letters.blocks(text),
        intact=letters.text_sha256(text) == signed.text_sha256,
        relation=relation_label(binding.relation) if binding else "",
    ))
    return no_store(response)


@bp.route("/letters/<public_id>/signature.png")
@login_required
def letter_signature(public_id: str):
    """The drawn signature of a letter, for its signer and reviewers (404 otherwise)."""
    signed = letters.letter_for(current_user, public_id)
    response = current_app.response_class(signed.signature_png, mimetype="image/png")
    return private_headers(response)


from webapp.blueprints.family import material_step  # noqa: E402,F401  (step 4's route)
