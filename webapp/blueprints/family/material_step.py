"""Step 4 of the add-member wizard: the material type and its pages, WeUI-uploader style.

Each chosen file (or camera photo) becomes the next page of the draft's material, checked like
every upload (``kinship.pages`` → ``materials.store``); a refused page leaves the others. A
page can be removed before 下一步. Every POST answers with a redirect (POST/redirect/GET).
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from webapp.blueprints.family import bp
from webapp.blueprints.family.forms import MaterialForm
from webapp.blueprints.family.wizard import (
    draft_relative,
    guard,
    holder,
    load_draft,
    page,
    rules,
    save_draft,
)
from webapp.forms import select_choices
from webapp.kinship import materials
from webapp.kinship import pages as material_pages
from webapp.policy import current_table, material_label, relation_label
from webapp.prg import restore, retry
from webapp.units import size_text
from webapp.web import current_actor, role_required

HERE = "family.add_material"


def draft_pages(draft: dict) -> list:
    """The draft's pages in order; the draft's ``material`` names the first (or is dropped)."""
    found = material_pages.set_pages(holder(), draft.get("material_set"))
    if not found and draft.get("material"):  # a one-page material from before pages existed
        found = material_pages.pages_of(materials.owned(holder(), draft["material"]))
    if found:
        draft["material"] = found[0].public_id
    else:
        draft.pop("material", None)
    return found


def store_uploads(form: MaterialForm, draft: dict, allowed: list[str]) -> int:
    """Store the chosen files as the next pages; refusals become the form's errors."""
    uploads = [f.stream for f in (form.file.data or []) if getattr(f, "filename", "")]
    if not uploads:
        return 0
    if not draft.get("material_set"):
        material_pages.discard_set(holder(), None, draft.pop("material", None))
        draft["material_set"] = material_pages.new_set_key()
    r = rules()
    stored, refused = material_pages.add_pages(
        holder(), draft["material_set"], form.material_type.data or "", uploads, allowed,
        r.material_formats, r.material_max_bytes, current_actor())
    for name, message in refused:
        target = form.material_type if name == "material_type" else form.file
        target.errors = [*target.errors, message]
    return stored


def ready_error(found: list, material_type: str) -> tuple[str, str] | None:
    """Why the pages cannot go on to the letter yet, as (field, message), or None."""
    if not found:
        return "file", "请选择要上传的文件"
    if found[0].material_type != material_type:
        return "material_type", "您更换了材料类型，请先删除已上传的页面，再上传对应的材料"
    need = current_table().pages_for(material_type)
    if len(found) < need.min:
        pages_hint = f"（{need.hint}）" if need.hint else ""
        return "file", f"{material_label(material_type)}需上传至少{need.min}页{pages_hint}"
    return None


@bp.route("/add/material", methods=["GET", "POST"])
@role_required("insured")
def add_material():
    """Step 4: the material type and its pages (JPG/PNG/PDF, by content, within the size limit)."""
    if (response := guard(HERE)) is not None:
        return response
    draft = load_draft()
    under_age, allowed = draft_relative(draft)
    found = draft_pages(draft)
    chosen = draft.get("material_type") or (found[0].material_type if found else "")
    form = MaterialForm(material_type=chosen or (allowed[0] if allowed else ""))
    form.material_type.choices = select_choices((c, material_label(c)) for c in allowed)
    if request.method == "POST" and form.back.data:
        draft["material_type"] = form.material_type.data or ""
        save_draft(draft)
        return redirect(url_for("family.add_info"))
    if form.validate_on_submit():
        draft["material_type"] = form.material_type.data
        if form.remove.data:
            if material_pages.remove_page(holder(), draft.get("material_set"), form.remove.data):
                flash("已删除该页", "success")
            draft_pages(draft)
            save_draft(draft)
            return redirect(url_for(HERE))
        stored = store_uploads(form, draft, allowed)
        found = draft_pages(draft)
        save_draft(draft)
        if not form.errors and form.upload.data:
            flash(f"已上传{stored}页", "success")
            return redirect(url_for(HERE))
        if not form.errors:
            problem = ready_error(found, form.material_type.data or "")
            if problem is None:
                return redirect(url_for("family.add_letter"))
            field = form.material_type if problem[0] == "material_type" else form.file
            field.errors = [*field.errors, problem[1]]
    if request.method == "POST":
        save_draft(draft)
        return retry(form)
    restore(form)
    r = rules()
    kind = form.material_type.data or (found[0].material_type if found else "")
    return page("family/wizard_material.html", 4, form=form, under_age=under_age,
                pages=found, need=current_table().pages_for(kind),
                max_text=size_text(r.material_max_bytes),
                formats=materials.formats_text(r.material_formats),
                accept=materials.accept_attr(r.material_formats), draft=draft,
                pages_label=material_label(found[0].material_type) if found else "",
                relation=relation_label(draft.get("relation", "")),
                self_confirm_age=r.self_confirm_age)


@bp.app_template_global("material_pages")
def material_pages_of(material):
    """Every page of a material, for the pages that show one (the reviewer's detail)."""
    return material_pages.pages_of(material)
