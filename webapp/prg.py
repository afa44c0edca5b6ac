"""POST/redirect/GET for forms that fail, so that browser back never re-sends a POST.

A view whose POST did not succeed returns ``retry(form)``: the submitted values (never
passwords, files, CSRF tokens or very long values such as a drawn signature) and the errors go
into the session under the page's path, and the answer is a 303 to the GET of that page. The
GET calls ``restore(form)`` right after building the form: the form gets the values and its
errors back, once. A success redirects as before (POST/redirect/GET already)::

    form = SomeForm()
    if form.validate_on_submit():
        if attempt(form, service, ...) is not None:
            return redirect(url_for("next.page"))
    if request.method == "POST":
        return retry(form)
    restore(form)
    return render_template(...)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import redirect, request, session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

KEY = "_prg"
# Field types whose values are never kept (secrets, files, buttons, the CSRF token).
SKIPPED = {"PasswordField", "FileField", "MultipleFileField", "CSRFTokenField", "SubmitField"}
# Values longer than this are not kept (a signature's data URL; nobody types that much).
MAX_VALUE = 2000


def kept_values(form: Any, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """The submitted values worth giving back: typed text and choices, nothing secret
    (``skip``: more fields not to keep, e.g. a scanned code or a one-time message id)."""
    data: dict[str, list[str]] = {}
    for field in form:
        if field.type in SKIPPED or field.name == "csrf_token" or field.name in skip:
            continue
        values = [v for v in (field.raw_data or []) if isinstance(v, str) and len(v) <= MAX_VALUE]
        if values:
            data[field.name] = values
    return data


def form_errors(form: Any) -> tuple[dict[str, list[str]], list[str]]:
    """The field errors (by field name) and the form-wide errors, as plain strings."""
    fields = {f.name: [str(e) for e in f.errors] for f in form
              if f.errors and isinstance(f.errors, list | tuple)}
    fields.pop("csrf_token", None)
    whole = [str(e) for e in getattr(form, "form_errors", [])]
    if getattr(form, "csrf_token", None) is not None and form.csrf_token.errors:
        whole.append("页面已过期，请重新提交")
    return fields, whole


def retry(form: Any, target: str | None = None, skip: tuple[str, ...] = ()) -> Response:
    """Keep the values and errors for the page's GET (``target``, default this page) and
    redirect there (303 See Other)."""
    url = target or request.full_path.rstrip("?")
    fields, whole = form_errors(form)
    session[KEY] = {"path": urlsplit(url).path, "data": kept_values(form, skip),
                    "errors": fields, "form_errors": whole}
    return redirect(url, 303)


def pending(path: str | None = None) -> dict | None:
    """What a failed POST kept for this page (or ``path``), without taking it."""
    saved = session.get(KEY)
    if isinstance(saved, dict) and saved.get("path") == (path or request.path):
        return saved
    return None


def restore(form: Any) -> bool:
    """On a GET after ``retry``: the form refilled with its values and errors (True), once."""
    saved = pending() if request.method == "GET" else None
    if saved is None:
        return False
    session.pop(KEY, None)
    values = saved.get("data") or {}
    formdata = MultiDict([(k, v) for k, vs in values.items() for v in vs])
    for name in values:
        if name in form._fields:
            form[name].process(formdata)
    for name, errors in (saved.get("errors") or {}).items():
        if name in form._fields:
            form[name].errors = list(errors)
    form.form_errors = list(saved.get("form_errors") or [])
    return True


def refused(form: Any, message: str, target: str | None = None) -> Response:
    """``retry`` with one form-wide message (a refusal that belongs to no field)."""
    form.form_errors.append(message)
    return retry(form, target)
