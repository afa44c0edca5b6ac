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

from flask import g, redirect, request, session
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


def retry(form: Any, target: str | None = None, skip: tuple[str, ...] = (),
          status: int | None = None) -> Response:
    """Keep the values and errors for the page's GET (``target``, default this page) and
    redirect there (303 See Other). ``status``: what that GET answers with (e.g. 429 for a
    refusal by a limit), read by the view through ``status()``."""
    url = target or request.full_path.rstrip("?")
    fields, whole = form_errors(form)
    session[KEY] = {"path": urlsplit(url).path, "data": kept_values(form, skip),
                    "errors": fields, "form_errors": whole, "status": status,
                    "prefix": getattr(form, "_prefix", "")}
    return redirect(url, 303)


def pending(path: str | None = None) -> dict | None:
    """What a failed POST kept for this page (or ``path``), without taking it."""
    saved = session.get(KEY)
    if isinstance(saved, dict) and saved.get("path") == (path or request.path):
        return saved
    return None


def restore(*forms: Any) -> bool:
    """On a GET after ``retry``: the form refilled with its values and errors (True), once.
    With several forms on one page (each with its own prefix), the one that was posted gets
    them back (fields are matched by their full name, prefix included)."""
    saved = pending() if request.method == "GET" else None
    if saved is None:
        return False
    session.pop(KEY, None)
    g.prg_status = saved.get("status")
    values = saved.get("data") or {}
    errors = saved.get("errors") or {}
    formdata = MultiDict([(k, v) for k, vs in values.items() for v in vs])
    prefix = saved.get("prefix") or ""
    for form in forms:
        if len(forms) > 1 and getattr(form, "_prefix", "") != prefix:
            continue
        by_name = {field.name: field for field in form}
        for name in values:
            if name in by_name:
                by_name[name].process(formdata)
        for name, messages in errors.items():
            if name in by_name:
                by_name[name].errors = list(messages)
        form.form_errors = list(saved.get("form_errors") or [])
    return True


def status(default: int = 200) -> int:
    """The status the page's GET answers with: the one ``retry`` was given, else ``default``."""
    return g.get("prg_status") or default


def refused(form: Any, message: str, target: str | None = None,
            status: int | None = None) -> Response:
    """``retry`` with one form-wide message (a refusal that belongs to no field)."""
    form.form_errors.append(message)
    return retry(form, target, status=status)


# --- refusals that are whole pages ------------------------------------------------------------

ERROR_KEY = "_prg_error"


def error_page(status: int, message: str | None = None, target: str | None = None) -> Response:
    """A POST refused with an error page (404, 409, 429 …): the page is shown by the GET of
    ``target`` (default: this path), once, with the same status, after a 303, so that browser
    back or reload never re-sends the POST."""
    url = target or request.full_path.rstrip("?")
    session[ERROR_KEY] = {"path": urlsplit(url).path, "status": status, "message": message}
    return redirect(url, 303)


def _pending_error():
    """Before a GET: the error page a refused POST left for this path (once)."""
    saved = session.get(ERROR_KEY) if request.method == "GET" else None
    if not isinstance(saved, dict) or saved.get("path") != request.path:
        return None
    session.pop(ERROR_KEY, None)
    from webapp.errors import render_error

    return render_error(int(saved.get("status") or 400), saved.get("message"))


def init_prg(app: Any) -> None:
    """The hook that shows an ``error_page`` on its GET."""
    app.before_request(_pending_error)
