"""管理家人 → 编辑: the holder changes an 已绑定 relative's contact phone and relation.

One page (``family/edit.html``) in three steps: 人脸识别 (a pass of purpose
``kinship.edit.PURPOSE``; starting one is a POST), 修改信息 (the form; a refused POST comes back
through ``webapp.prg`` and the checked values wait in the session, so a bad input or an expired
pass loses nothing), 确认保存 (old → new, then one
call to ``kinship.edit.edit_binding``). The binding is loaded with ``queries.holder_binding``
(404 for anyone but the holder). Name and ID number are not editable; the page says why and
links 解除绑定 and 添加家庭成员.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.validators import DataRequired

from webapp.blueprints.face import start_face_check
from webapp.blueprints.family import bp
from webapp.domain import DomainError
from webapp.face import services as face
from webapp.forms import ActionForm, PhoneField, select_choices
from webapp.kinship import edit, queries
from webapp.kinship.models import KinshipBinding
from webapp.kinship.steps import rules_of
from webapp.policy import relation_label
from webapp.prg import restore, retry
from webapp.web import attempt, current_actor, role_required

DRAFT = "kinship_edit"
STEPS = ["人脸识别", "修改信息", "确认保存"]


class EditForm(FlaskForm):
    """Phone and relation (choices from the binding's policy) and the version the holder saw."""

    relation = SelectField("与您的关系", choices=[], validate_choice=False,
                           validators=[DataRequired("请选择与您的关系")])
    phone = PhoneField("联系电话", message="请输入11位手机号")
    version = HiddenField()


def _binding(public_id: str) -> KinshipBinding:
    return queries.holder_binding(current_user.person, public_id)


def _draft(binding: KinshipBinding) -> dict | None:
    """The holder's unsaved edit of this binding, if any."""
    draft = session.get(DRAFT)
    if isinstance(draft, dict) and draft.get("user") == current_user.get_id() \
            and draft.get("binding") == binding.public_id:
        return draft
    return None


def _page(binding: KinshipBinding, step: int, **context):
    fixed = None if edit.relation_editable(binding) else edit.reviewed_text(binding)
    return render_template("family/edit.html", b=binding, r=queries.row(binding), step=step,
                           steps=STEPS, fixed=fixed, in_aid=edit.in_aid(binding), **context)


def _refused(binding: KinshipBinding):
    """Back to the member page when the binding is not 已绑定 (nothing to edit)."""
    flash(edit.MSG_NOT_ACTIVE, "error")
    return redirect(url_for("family.member", public_id=binding.public_id))


@bp.route("/members/<public_id>/edit", methods=["GET", "POST"])
@role_required("insured")
def edit_member(public_id: str):
    """编辑: the face step until the holder holds a pass, then the form."""
    binding = _binding(public_id)
    if not edit.is_editable(binding):
        return _refused(binding)
    if not face.has_pass(current_user.person, edit.PURPOSE):
        return _page(binding, 1, form=ActionForm())
    draft = _draft(binding) or {}
    form = EditForm(data={"relation": draft.get("relation", binding.relation),
                          "phone": draft.get("phone", binding.phone),
                          "version": draft.get("version", binding.version)})
    codes = rules_of(binding).relations if edit.relation_editable(binding) else [binding.relation]
    form.relation.choices = select_choices([(code, relation_label(code)) for code in codes])
    if form.validate_on_submit():
        values = {"relation": form.relation.data or "", "phone": form.phone.data or ""}
        if attempt(form, edit.check_edit, binding, values["phone"], values["relation"]):
            seen = str(form.version.data or "")
            seen = seen if seen.isascii() and seen.isdigit() else str(binding.version)  # not "²"
            session[DRAFT] = {"user": current_user.get_id(), "binding": binding.public_id,
                              "version": seen,
                              **values}
            return redirect(url_for("family.edit_confirm", public_id=public_id))
    if request.method == "POST":
        return retry(form)  # 303 back here with what was typed and the errors
    restore(form)
    return _page(binding, 2, form=form)


@bp.route("/members/<public_id>/edit/face", methods=["POST"])
@role_required("insured")
def edit_face(public_id: str):
    """Start the holder's face check; after a pass, back to the edit (the draft is kept)."""
    binding = _binding(public_id)
    if not edit.is_editable(binding):
        return _refused(binding)
    if not ActionForm().validate_on_submit():
        flash("页面已过期，请重试", "error")
        return redirect(url_for("family.edit_member", public_id=public_id))
    target = request.form.get("then") == "confirm" and _draft(binding) is not None
    endpoint = "family.edit_confirm" if target else "family.edit_member"
    return start_face_check(current_user.person, edit.PURPOSE,
                            url_for(endpoint, public_id=binding.public_id))


@bp.route("/members/<public_id>/edit/confirm", methods=["GET", "POST"])
@role_required("insured")
def edit_confirm(public_id: str):
    """确认保存: old → new; saving spends the face pass and tells both sides."""
    binding = _binding(public_id)
    draft = _draft(binding)
    back = url_for("family.edit_member", public_id=public_id)
    if draft is None:
        if request.method == "POST":
            flash("没有待保存的修改，请重新编辑", "warning")
        return redirect(url_for("family.member", public_id=public_id) if request.method == "POST"
                        else back)
    if not edit.is_editable(binding):
        session.pop(DRAFT, None)
        return _refused(binding)
    try:
        plan = edit.check_edit(binding, draft["phone"], draft["relation"])
    except DomainError as err:
        flash(err.message, "error")
        return redirect(back)
    form = ActionForm()
    has_pass = face.has_pass(current_user.person, edit.PURPOSE)
    if request.method == "POST" and form.validate_on_submit():
        try:
            edit.edit_binding(binding, current_user.person, plan.phone, plan.relation,
                              int(draft["version"]), current_actor())
        except DomainError as err:
            if err.code == "face_required":
                flash("人脸识别已超时，请重新识别后保存", "warning")
                return _page(binding, 3, form=form, plan=plan, has_pass=False)
            flash(err.message, "error")
            return redirect(back)
        session.pop(DRAFT, None)
        flash("修改已保存", "success")
        return redirect(url_for("family.member", public_id=public_id))
    return _page(binding, 3, form=form, plan=plan, has_pass=has_pass)
