"""The insured person's side of review: an application's status with 重新提交, and
"谁出示过我的医保码" (who showed my code on my behalf)."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.audit import search as audit_search
from webapp.blueprints.review import bp
from webapp.blueprints.review.forms import ResubmitForm
from webapp.forms import select_choices
from webapp.kinship import materials
from webapp.policy import material_label
from webapp.prg import restore, retry
from webapp.review import queries
from webapp.review import services as review
from webapp.web import attempt, current_actor, no_store, page_number, role_required


def holder():
    """The logged-in insured person."""
    return current_user.person


@bp.route("/my/<public_id>", methods=["GET", "POST"])
@role_required("insured")
def application(public_id: str):
    """My application: 待审核 with its expected date, or 未通过 with the reason and 重新提交."""
    binding = queries.holder_binding(holder(), public_id)
    view = queries.application_page(binding)
    form = ResubmitForm()
    allowed = view.allowed
    if allowed is not None:
        form.material_type.choices = select_choices(
            (c, material_label(c)) for c in allowed.materials)
        if request.method == "GET" and binding.material is not None \
                and binding.material.material_type in allowed.materials:
            form.material_type.data = binding.material.material_type
    restore(form)
    if request.method == "POST":
        if allowed is None:
            flash(view.blocked or review.NOT_PENDING_RESUBMIT, "error")
            return redirect(url_for("review.application", public_id=public_id))
        if form.validate_on_submit():
            if resubmitted(binding, form):
                flash("已重新提交，请等待审核", "success")
                return redirect(url_for("review.application", public_id=public_id))
        return retry(form, status=400)  # the errors show on the GET, with the same 400
    response = make_response(render_template(
        "review/application.html", form=form, family_url=back_url(binding), **view.context(),
    ), 400 if form.errors or form.form_errors else 200)
    return no_store(response)


def back_url(binding) -> str:
    """The holder's page of this member."""
    return url_for("family.member", public_id=binding.public_id)


def resubmitted(binding, form: ResubmitForm) -> bool:
    """Store the new file with the materials service, then put the binding back in the queue.

    A new file that cannot be used is deleted again.
    """
    upload = form.file.data
    if not upload or not getattr(upload, "filename", ""):
        form.file.errors = ["请选择新的证明材料文件"]
        return False
    material = attempt(form, review.store_material, holder(), binding,
                       form.material_type.data or "", upload.stream, current_actor())
    if material is None:
        return False
    done = attempt(form, review.resubmit, holder(), binding.public_id, material,
                   current_actor())
    if done is None:
        materials.discard_unused(holder(), material.public_id)  # attempt() rolled back
        return False
    return True


@bp.route("/shown-my-code")
@role_required("insured")
def code_shows():
    """谁出示过我的医保码: each holder who showed my code on my behalf, and when."""
    page = audit_search.code_shows(holder(), page=page_number())
    response = make_response(render_template("privacy/code_shows.html", page=page,
                                             days=audit_search.SHOW_LOOKBACK_DAYS))
    return no_store(response)
