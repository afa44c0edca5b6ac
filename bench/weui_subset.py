"""Generate the WeUI subset the pages load: only the rules whose classes the app uses.

    .venv/bin/python bench/weui_subset.py          # rewrite weui.subset.css
    .venv/bin/python bench/weui_subset.py --check  # exit 1 when the committed subset is stale

The vendored ``weui.min.css`` (WeUI 2.6.26, MIT, unchanged) is the source; the subset keeps
  * every rule whose selectors' classes all appear in the templates, scripts, stylesheets or
    Python of the app (``weui-btn_`` written as a prefix in a template keeps every
    ``weui-btn_*``; a selector without classes — ``body``, ``html``, ``*`` — is kept),
  * of the custom properties (``--weui-*``), only those a kept rule or the app's own CSS /
    templates use, transitively,
  * the ``@keyframes`` a kept rule animates with, and ``@media`` / ``@supports`` blocks that
    keep anything.
The output starts with WeUI's licence banner. tests/test_page_weight_subset.py re-runs this and
fails when the committed file differs (a template started using a class the subset dropped).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "webapp"
VENDOR = APP / "static" / "vendor" / "weui-2.6.26"
SOURCE = VENDOR / "weui.min.css"
OUTPUT = VENDOR / "weui.subset.css"

CLASS_USE = re.compile(r"weui-[A-Za-z0-9_-]*")
SELECTOR_CLASS = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)")
VAR_USE = re.compile(r"var\(\s*(--[A-Za-z0-9_-]+)")
ANIMATION = re.compile(r"animation(?:-name)?\s*:\s*([^;}]+)")
# ``weui-icon-{{ refusal.icon }}``: the icon names come from Python (``icon="info"``, a field
# default ``icon: str = "warn"``), so that prefix keeps those icons, not all forty.
ICON_VALUE = re.compile(r"\bicon(?:\s*:\s*str)?\s*=\s*\"([a-z-]+)\"")


def used_classes() -> tuple[set[str], tuple[str, ...]]:
    """WeUI class names the app writes (exact names, and prefixes ending in '_' or '-')."""
    names: set[str] = set()
    for pattern in ("templates/**/*.html", "static/js/*.js", "static/css/*.css", "**/*.py"):
        for path in APP.glob(pattern):
            text = path.read_text(encoding="utf-8", errors="replace")
            names.update(CLASS_USE.findall(text))
            if path.suffix == ".py":
                names.update(f"weui-icon-{v}" for v in ICON_VALUE.findall(text))
    prefixes = tuple(sorted(n for n in names if n.endswith(("_", "-"))
                            and n not in ("weui-", "weui-icon-")))
    return names, prefixes


def app_variables() -> set[str]:
    """Custom properties the app's own stylesheets and templates use."""
    found: set[str] = set()
    for pattern in ("static/css/*.css", "templates/**/*.html", "static/js/*.js"):
        for path in APP.glob(pattern):
            found.update(VAR_USE.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


# ---- a small parser of (minified) CSS: rules, at-rule blocks, declarations ------------------

def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _block_end(text: str, i: int) -> int:
    """Index just after the '}' matching the '{' at ``i``."""
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _skip_string(text, i)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced braces")


def parse(text: str) -> list[tuple[str, str | list]]:
    """[(prelude, body)]: body is the declarations text, or a nested list for @media etc."""
    items: list[tuple[str, str | list]] = []
    i = 0
    while i < len(text):
        if text.startswith("/*", i):
            end = text.index("*/", i) + 2
            items.append(("/*", text[i:end]))
            i = end
            continue
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < len(text) and text[j] not in "{;":
            j = _skip_string(text, j) if text[j] in "\"'" else j + 1
        prelude = text[i:j].strip()
        if j >= len(text) or text[j] == ";":  # @charset / @import
            items.append((prelude, ""))
            i = j + 1
            continue
        end = _block_end(text, j)
        inner = text[j + 1:end - 1]
        nested = prelude.startswith(("@media", "@supports"))
        items.append((prelude, parse(inner) if nested else inner))
        i = end
    return items


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and strings."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _skip_string(text, i)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


# ---- the subset -----------------------------------------------------------------------------

class Subset:
    def __init__(self, names: set[str], prefixes: tuple[str, ...], variables: set[str]):
        self.names, self.prefixes, self.app_variables = names, prefixes, variables

    def class_used(self, name: str) -> bool:
        return name in self.names or name.startswith(self.prefixes)

    def selector_kept(self, selector: str) -> bool:
        return all(self.class_used(c) for c in SELECTOR_CLASS.findall(selector))

    def rules(self, items: list) -> list:
        """Style rules with their selectors filtered (declarations untouched yet)."""
        kept: list = []
        for prelude, body in items:
            if prelude == "/*" or prelude.startswith("@keyframes") \
                    or prelude.startswith("@-webkit-keyframes") or prelude.startswith("@font"):
                kept.append((prelude, body))
            elif isinstance(body, list):
                inner = self.rules(body)
                if any(p != "/*" for p, _ in inner):
                    kept.append((prelude, inner))
            elif prelude.startswith("@"):
                kept.append((prelude, body))
            else:
                selectors = [s for s in split_top(prelude, ",") if self.selector_kept(s)]
                if selectors:
                    kept.append((",".join(selectors), body))
        return kept

    def used_variables(self, items: list) -> set[str]:
        """Custom properties reachable from the kept ordinary declarations and the app."""
        defined: dict[str, set[str]] = {}
        roots = set(self.app_variables)

        def walk(entries: list) -> None:
            for prelude, body in entries:
                if isinstance(body, list):
                    walk(body)
                elif prelude != "/*" and not prelude.startswith("@"):
                    for decl in split_top(body, ";"):
                        name, _, value = decl.partition(":")
                        name = name.strip()
                        refs = set(VAR_USE.findall(value))
                        if name.startswith("--"):
                            defined.setdefault(name, set()).update(refs)
                        else:
                            roots.update(refs)

        walk(items)
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(defined.get(name, ()))
        return seen

    def prune(self, items: list, variables: set[str]) -> list:
        """Drop unused custom-property declarations, then empty rules."""
        kept: list = []
        for prelude, body in items:
            if isinstance(body, list):
                inner = self.prune(body, variables)
                if any(p != "/*" for p, _ in inner):
                    kept.append((prelude, inner))
            elif prelude == "/*" or prelude.startswith("@"):
                kept.append((prelude, body))
            else:
                decls = [d for d in split_top(body, ";") if d.strip() and not (
                    d.strip().startswith("--") and d.split(":", 1)[0].strip() not in variables)]
                if decls:
                    kept.append((prelude, ";".join(decls)))
        return kept

    def keyframes(self, items: list) -> list:
        """Keep only the @keyframes some kept rule animates with."""
        names: set[str] = set()

        def collect(entries: list) -> None:
            for prelude, body in entries:
                if isinstance(body, list):
                    collect(body)
                elif not prelude.startswith("@") and prelude != "/*":
                    for value in ANIMATION.findall(body):
                        names.update(re.findall(r"[A-Za-z_][\w-]*", value))

        collect(items)

        def keep(entries: list) -> list:
            out: list = []
            for prelude, body in entries:
                if "keyframes" in prelude.split(" ", 1)[0]:
                    if prelude.split(None, 1)[1].strip() not in names:
                        continue
                out.append((prelude, keep(body) if isinstance(body, list) else body))
            return out

        return keep(items)


def render(items: list) -> str:
    out = []
    for prelude, body in items:
        if prelude == "/*":
            out.append(str(body))
        elif isinstance(body, list):
            out.append(f"{prelude}{{{render(body)}}}")
        elif body == "" and prelude.startswith("@") and not prelude.startswith("@font"):
            out.append(f"{prelude};")
        else:
            out.append(f"{prelude}{{{body}}}")
    return "".join(out)


def build() -> str:
    """The subset stylesheet's text."""
    names, prefixes = used_classes()
    subset = Subset(names, prefixes, app_variables())
    items = subset.rules(parse(SOURCE.read_text(encoding="utf-8")))
    items = subset.prune(items, subset.used_variables(items))
    items = subset.keyframes(items)
    note = ("/* Generated by bench/weui_subset.py from weui.min.css (the rules this app uses);"
            " do not edit. */\n")
    return note + render(items) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when the subset is stale")
    args = parser.parse_args()
    text = build()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run bench/weui_subset.py")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    full = SOURCE.stat().st_size
    print(f"{OUTPUT.relative_to(ROOT)}: {len(text.encode())} bytes (from {full})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
