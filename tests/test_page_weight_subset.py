"""The WeUI subset the pages load is generated from the templates, scripts and stylesheets
(bench/weui_subset.py): it must match what the script makes now, so that a template using a
WeUI class the subset lacks fails here instead of looking unstyled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from webapp.templating import VENDOR

ROOT = Path(__file__).resolve().parent.parent


def load_script():
    spec = importlib.util.spec_from_file_location("weui_subset", ROOT / "bench" / "weui_subset.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_subset_is_what_the_script_makes():
    script = load_script()
    assert script.OUTPUT.read_text(encoding="utf-8") == script.build(), (
        "webapp/static/vendor/weui-2.6.26/weui.subset.css is stale: "
        "run .venv/bin/python bench/weui_subset.py and commit it")


def test_pages_load_the_subset_with_its_licence_next_to_it():
    script = load_script()
    assert VENDOR["weui"].endswith("weui.subset.css")
    assert (script.VENDOR / "LICENSE.txt").exists()
    text = script.OUTPUT.read_text(encoding="utf-8")
    assert "Licensed under the MIT license" in text
    assert len(text.encode()) < script.SOURCE.stat().st_size / 4


def test_subset_keeps_used_rules_and_drops_unused_ones():
    script = load_script()
    css = (".weui-btn{color:red}.weui-btn_primary,.weui-unused{color:var(--weui-A)}"
           ".weui-unused{x:1}body{--weui-A:1;--weui-B:2}@media (x){.weui-unused{y:1}}"
           "@keyframes spin{to{x:1}}@keyframes gone{to{x:1}}.weui-loading{animation:spin 1s}")
    subset = script.Subset({"weui-btn", "weui-btn_primary", "weui-loading"}, (), set())
    items = subset.rules(script.parse(css))
    items = subset.keyframes(subset.prune(items, subset.used_variables(items)))
    out = script.render(items)
    assert ".weui-btn{color:red}" in out and ".weui-btn_primary{color:var(--weui-A)}" in out
    assert "weui-unused" not in out and "@media" not in out
    assert "--weui-A:1" in out and "--weui-B" not in out
    assert "@keyframes spin" in out and "gone" not in out
