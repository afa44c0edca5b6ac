"""The shape issue 9 left, kept by tests: thin routes, small modules, states compared as enums,
every stored state declared once (its enum) with the CHECK generated from it."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import webapp
from webapp.states import State

WEBAPP = Path(webapp.__file__).parent
MAX_LINES = 400


def _python_files():
    return sorted(WEBAPP.rglob("*.py"))


def test_no_route_module_touches_the_session_or_runs_sql():
    """Views call services and queries; no routes.py holds db.session or db.select."""
    offenders = [str(p.relative_to(WEBAPP)) for p in WEBAPP.glob("blueprints/*/routes.py")
                 if re.search(r"\bdb\.(session|select)\b", p.read_text())]
    assert offenders == []


def test_no_module_is_longer_than_one_sitting():
    """Every module in webapp/ stays under MAX_LINES lines."""
    long = {str(p.relative_to(WEBAPP)): n for p in _python_files()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


STATUS_COMPARED_TO_LITERAL = re.compile(
    r"""\.status\s*(==|!=|\bnot in\b|\bin\b)\s*[(\[]?\s*['"]""")


def test_statuses_are_compared_with_their_enum_never_a_string():
    """`x.status == "active"` (Python or Jinja) is written nowhere: compare with the enum."""
    files = [*_python_files(), *sorted((WEBAPP / "templates").rglob("*.html"))]
    hits = [f"{p.relative_to(WEBAPP)}:{n}" for p in files if p.name != "states.py"
            for n, line in enumerate(p.read_text().splitlines(), 1)
            if STATUS_COMPARED_TO_LITERAL.search(line)]
    assert hits == []


def _state_enums() -> list[type[State]]:
    for module in pkgutil.walk_packages(webapp.__path__, "webapp."):
        if module.name.endswith(".states") or module.name.endswith(".reconciliation"):
            importlib.import_module(module.name)
    found, todo = [], list(State.__subclasses__())
    while todo:
        enum = todo.pop()
        found.append(enum)
        todo.extend(enum.__subclasses__())
    return found


def test_every_state_has_a_chinese_label_and_a_pill():
    """Each member of each state enum carries what a page shows for it."""
    enums = _state_enums()
    assert len(enums) >= 8  # binding, invitation, aid group/member, settlement, review, face …
    for enum in enums:
        for member in enum:
            assert re.search(r"[\u4e00-\u9fff]", member.label), (enum.__name__, member)
            assert member.kind in ("ok", "wait", "bad", "off")


def test_status_checks_in_the_schema_are_generated_from_the_enums(app):
    """Every status column's CHECK lists exactly its enum's values."""
    from webapp.extensions import db
    from webapp.states import StateType

    checked = 0
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, StateType):
                continue
            allowed = ",".join(f"'{v}'" for v in column.type.enum.values())
            texts = [str(c.sqltext) for c in table.constraints if hasattr(c, "sqltext")]
            assert f"{column.name} in ({allowed})" in texts, (table.name, column.name, texts)
            checked += 1
    assert checked >= 6
