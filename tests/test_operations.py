"""Operations: the README's operator commands work as written, every command group is listed,
the quoted demo ID number exists after the demo seed, `make run PORT=…`, region codes checked
against GB/T 2260, WTForms pinned below 3.4 with no tuple choices left."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import cli as flask_cli
from sqlalchemy import func, select

from webapp.demo import seed_demo
from webapp.extensions import db
from webapp.models import InsuredPerson, Pharmacy
from webapp.regions import PROVINCES, divisions, is_known_region

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PREFIX = [".venv/bin/flask", "--app", "webapp"]
FLASK_BUILTINS = {"run", "shell", "routes"}
# Commands the test does not run for real (they need a long time or another database).
NOT_RUN = {"db", "seed-demo", "init-demo", "limiter"}  # limiter: an entry-point group


def readme_commands() -> list[list[str]]:
    """The words of every `.venv/bin/flask --app webapp …` line in the README's sh blocks."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["flask"]:
                pytest.fail(f"README line without .venv/bin/: {line}")
            if words[:3] == PREFIX:
                lines.append(words[3:])
    return lines


def test_readme_has_operator_commands():
    """The README's operator block is there and every flask line uses the venv's flask."""
    commands = readme_commands()
    assert len(commands) >= 10
    assert not re.search(r"^flask --app", README, re.M)


@pytest.mark.parametrize("words", readme_commands(), ids=lambda w: " ".join(w[:2]))
def test_readme_command_parses_with_help(words):
    """Each README command line, as written plus --help, is a real command with real options."""
    result = CliRunner().invoke(flask_cli, ["--app", "webapp", *words, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_the_venv_flask_runs_a_readme_command():
    """`.venv/bin/flask --app webapp registry show --help` from the checkout, as an operator types it."""
    flask_bin = ROOT / ".venv" / "bin" / "flask"
    if not flask_bin.exists():
        pytest.skip(".venv/bin/flask is created by `make install` (make test does it)")
    done = subprocess.run([str(flask_bin), "--app", "webapp", "registry", "show", "--help"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "registry show" in done.stdout


def test_every_command_group_is_listed():
    """Every top-level command `flask --app webapp --help` lists appears in the README."""
    listed = {words[0] for words in readme_commands()}
    result = CliRunner().invoke(flask_cli, ["--app", "webapp", "--help"])
    section = result.output.split("Commands:", 1)[1]
    names = {line.split()[0] for line in section.splitlines() if line.strip()} - FLASK_BUILTINS
    assert {"registry", "pharmacy", "db"} <= names
    assert names - listed == set(), f"not in README.md: {sorted(names - listed)}"
    assert listed - names == set()


def test_readme_commands_work_on_the_demo_data(app, runner):
    """After the demo seed, the README's commands run as written (exit 0), in order."""
    seed_demo()
    for words in readme_commands():
        if words[0] in NOT_RUN or "--help" in words:
            continue
        result = runner.invoke(args=words)
        assert result.exit_code == 0, (words, result.output)
    assert db.session.scalar(select(Pharmacy).filter_by(code="P36010200002")) is not None


def test_the_quoted_demo_id_number_exists_after_the_seed(app, runner):
    """Every ID number the README quotes for `registry show` is a demo person."""
    shows = [w[2] for w in readme_commands() if w[:2] == ["registry", "show"]]
    assert shows
    seed_demo()
    for number in shows:
        assert db.session.scalar(select(InsuredPerson).filter_by(id_number=number)) is not None
        result = runner.invoke(args=["registry", "show", number])
        assert result.exit_code == 0 and number in result.output


def test_make_run_takes_port_and_host():
    """`make run PORT=5123 HOST=127.0.0.1` serves there (dry run: the commands make would run)."""
    done = subprocess.run(["make", "-n", "run", "PORT=5123", "HOST=127.0.0.1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "run --host 127.0.0.1 --port 5123" in done.stdout
    assert "FLASK_RUN_PORT=5123" in done.stdout
    default = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert "run --host 0.0.0.0 --port 5000" in default.stdout


def test_init_demo_prints_the_port(app, runner, monkeypatch):
    """init-demo's address line follows the port make run passes."""
    monkeypatch.setenv("FLASK_RUN_PORT", "5123")
    result = runner.invoke(args=["init-demo"])
    assert "http://127.0.0.1:5123/" in result.output


# --- region codes ------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["123456", "360199", "369900", "990000", "000000", "12345",
                                  "36010a", "３６００００"])
def test_unknown_region_codes_are_refused(code):
    """Not only the first two digits: the code must be in the GB/T 2260 list."""
    assert not is_known_region(code)


@pytest.mark.parametrize("code", ["360000", "360100", "360102", "320102", "460105", "110101",
                                  "110100", "500200", "429004", "810000", "710000", "659001"])
def test_real_region_codes_are_known(code):
    """Province, prefecture, county, municipality and province-administered county codes."""
    assert is_known_region(code)


def test_the_list_covers_every_province():
    """The vendored list holds the 34 province-level units (same names) and their divisions."""
    rows = divisions()
    assert all(rows.get(code) == name for code, name in PROVINCES.items())
    assert len(rows) > 3000
    assert sum(1 for c in rows if c.endswith("00") and not c.endswith("0000")) > 330


def test_pharmacy_add_refuses_region_123456(app, runner):
    """`pharmacy add --region 123456` is refused (天津's digits, no such prefecture)."""
    result = runner.invoke(args=["pharmacy", "add", "--name", "仁心大药房", "--code", "P1",
                                 "--region", "123456", "--staff-phone", "13600000003",
                                 "--staff-password", "Demo1234"])
    assert result.exit_code == 1 and "参保地应为6位省级行政区划代码" in result.stderr
    assert db.session.scalar(select(func.count(Pharmacy.id))) == 0
    ok = runner.invoke(args=["pharmacy", "add", "--name", "仁心大药房", "--code", "P1",
                             "--region", "360100", "--staff-phone", "13600000003",
                             "--staff-password", "Demo1234"])
    assert ok.exit_code == 0, ok.output
    assert db.session.scalar(select(Pharmacy.region_code)) == "360000"


# --- WTForms ----------------------------------------------------------------------------------

def test_wtforms_is_pinned_below_3_4():
    """pyproject pins wtforms below 3.4 (which removes tuple choices)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(d for d in deps if d.lower().startswith("wtforms"))
    assert "<3.4" in pin.replace(" ", "")


def _tuple_choices(node: ast.AST) -> bool:
    """Whether a choices expression builds tuples (or dict items) not wrapped in select_choices."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "select_choices":
        return False
    if isinstance(node, ast.Tuple):
        return True
    if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "items":
        return True
    return any(_tuple_choices(child) for child in ast.iter_child_nodes(node))


def test_no_tuple_choices_in_forms_or_views():
    """Every SelectField/RadioField's choices are SelectChoice (forms.select_choices)."""
    offenders = []
    for path in (ROOT / "webapp").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            values = []
            if isinstance(node, ast.keyword) and node.arg == "choices":
                values.append(node.value)
            if isinstance(node, ast.Assign):
                values += [node.value for t in node.targets
                           if isinstance(t, ast.Attribute) and t.attr == "choices"]
            offenders += [f"{path.relative_to(ROOT)}:{v.lineno}" for v in values
                          if _tuple_choices(v)]
    assert offenders == []
