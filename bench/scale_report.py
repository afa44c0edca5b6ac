"""Benchmark at national scale: every endpoint with 2 k and with 1 M registry people.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/scale_report.py [--sizes 2000,1000000] [--runs 1] [-- run.py args]

BENCH_DATABASE_URL names a PostgreSQL server (its database is only used to connect). For each
size a template database ``qybench_people_<N>`` is seeded once (bench/seed.py + bench/scale.py;
1 M people ≈ 8 M rows, a few minutes) and kept; each run clones it (``CREATE DATABASE …
TEMPLATE``, seconds), runs bench/run.py on the clone with ``--seeded``, measures the expired-code
purge on it, and drops it. Prints one table: each endpoint's req/s and p50 at every size and the
slowdown from the smallest size to the largest, of req/s and of the ratio to the run's own
hello-world (the verdict: target ≤ 1.2, cost stays flat; the ratio cancels the machine's drift
between the runs).
``--rebuild`` re-seeds the templates (after a schema change).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import pgadmin  # noqa: E402

FLAT_TARGET = 1.2
MARKER = "qybench_template"


def complete(url: str) -> bool:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as c:
            return bool(c.scalar(text(f"SELECT count(*) FROM {MARKER}")))
    except Exception:  # noqa: BLE001 (missing table: not complete)
        return False
    finally:
        engine.dispose()


def build_template(server, people: int, rebuild: bool) -> str:
    """The seeded template database of this size (made when missing or incomplete)."""
    name = f"qybench_people_{people}"
    url = pgadmin.url_of(server, name)
    if pgadmin.exists(server, name) and complete(url) and not rebuild:
        return name
    pgadmin.recreate(server, name)
    started = time.perf_counter()
    print(f"scale: seeding template {name} ({people:,} people) …", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BENCH_DB_URL": url, "BENCH_SECRET_KEY": "x" * 64,
               "BENCH_UPLOADS": f"{tmp}/uploads", "WEBAPP_ENV": "development"}
        # The schema from the models (the migrations produce the same: tests/test_migrations).
        script = ("import seed; from wsgi import app; from webapp.extensions import db\n"
                  "with app.app_context():\n"
                  "    db.create_all()\n"
                  f"    seed.seed(people={people})\n")
        subprocess.run([sys.executable, "-c", script], env=env, cwd=str(BENCH), check=True)
    seeded = create_engine(url, poolclass=NullPool)
    with seeded.begin() as c:
        c.execute(text(f"CREATE TABLE {MARKER} (people integer)"))
        c.execute(text(f"INSERT INTO {MARKER} VALUES (:n)"), {"n": people})
        c.execute(text("CHECKPOINT"))
    seeded.dispose()
    print(f"scale: template {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return name


def purge_cost(url: str, people: int) -> dict[str, float]:
    """Time the scheduled purge: an hour of expired codes (2.5 per person) past the window."""
    os.environ.update({"BENCH_DB_URL": url, "BENCH_SECRET_KEY": "x" * 64})
    from webapp import clock, create_app
    from webapp.cli.housekeeping import purge_codes
    from webapp.codes.services import PURGE_AFTER
    from webapp.extensions import db

    app = create_app({"ENV_NAME": "development", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        # The template's own codes have aged past the window by the time it is cloned: that
        # backlog first (reported apart), then an hour's worth, then a purge with nothing to do.
        started = time.perf_counter()
        backlog = purge_codes()
        backlog_s = time.perf_counter() - started
        old = clock.now() - PURGE_AFTER - timedelta(hours=1)
        count = people * 5 // 2
        db.session.execute(text(
            "INSERT INTO insurance_code (code_hash, person_id, created_at, expires_at) "
            "SELECT md5(random()::text || g) || md5(g::text), "
            "(SELECT min(id) FROM insured_person), "
            ":old - make_interval(secs => (g % 3600)::float8), :old - make_interval(secs => (g % 3600)::float8) "
            "+ interval '90 seconds' FROM generate_series(1, :n) g"),
            {"old": old, "n": count})
        db.session.commit()
        started = time.perf_counter()
        deleted = purge_codes()
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        purge_codes()
        idle_ms = (time.perf_counter() - started) * 1000
        db.session.remove()
        db.engine.dispose()
    return {"idle_ms": idle_ms, "deleted": deleted, "seconds": elapsed, "backlog": backlog,
            "backlog_s": backlog_s,
            "per_1000_ms": elapsed * 1000 / max(deleted, 1) * 1000}


def run_once(server, template: str, people: int, run_args: list[str]) -> dict:
    name = f"qybench_run_{people}"
    url = pgadmin.recreate(server, name, template=template)
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            # No floor rows: they measure the machine and the libraries, not the data's size.
            subprocess.run([sys.executable, str(BENCH / "run.py"), "--seeded", "--only", url,
                            "--json", out.name, "--no-floor", *run_args], cwd=str(ROOT),
                           check=True)
            result = json.loads(Path(out.name).read_text())
        result["purge"] = purge_cost(url, people)
        return result
    finally:
        pgadmin.drop(server, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,1000000")
    parser.add_argument("--runs", type=int, default=1, help="runs per size (best is reported)")
    parser.add_argument("--rebuild", action="store_true", help="re-seed the templates")
    parser.add_argument("--templates-only", action="store_true")
    args, run_args = parser.parse_known_args()
    run_args = [a for a in run_args if a != "--"]
    raw = os.environ.get("BENCH_DATABASE_URL", "")
    if not raw.startswith("postgresql"):
        raise SystemExit("scale: set BENCH_DATABASE_URL to a PostgreSQL server")
    server = make_url(raw)
    sizes = [int(s) for s in args.sizes.split(",")]
    templates = {n: build_template(server, n, args.rebuild) for n in sizes}
    if args.templates_only:
        return 0
    results: dict[int, list[dict]] = {n: [] for n in sizes}
    for _ in range(args.runs):
        for n in sizes:
            results[n].append(run_once(server, templates[n], n, run_args))
    print_table(sizes, results)
    return 0


def best(runs: list[dict], name: str) -> dict | None:
    rows = [run["rows"][name] for run in runs if name in run["rows"]]
    return max(rows, key=lambda r: r["ratio"]) if rows else None


def print_table(sizes: list[int], results: dict[int, list[dict]]) -> None:
    """req/s, p50 and the ratio to the run's own hello-world per size; two slowdowns: of req/s,
    and of that ratio — the verdict, since the machine's speed drifts between the runs (the
    hello-world of two runs minutes apart differs by up to 30 %) and the ratio cancels it."""
    small, large = sizes[0], sizes[-1]
    names = list(results[small][0]["rows"])
    print(f"\nscale: load average {os.getloadavg()[0]:.2f}; best of {len(results[small])} run(s)"
          "; hello-world req/s per size: "
          + ", ".join(f"{n:,}: " + "/".join(f"{r['hello_rps']:.0f}" for r in results[n])
                      for n in sizes))
    head = "".join(f"{f'{n:,} req/s':>16}{'p50 ms':>8}{'ratio':>7}" for n in sizes)
    print(f"{'endpoint':<18}{head}{'req/s ÷':>9}{'ratio ÷':>9}")
    for name in names:
        cells = [best(results[n], name) for n in sizes]
        if any(c is None for c in cells):
            continue
        line = "".join(f"{c['rps']:>16.0f}{c['p50_ms']:>8.2f}{c['ratio']:>7.1%}" for c in cells)
        first, last = cells[0], cells[-1]
        slow = first["rps"] / last["rps"] if last["rps"] else float("inf")
        flat = first["ratio"] / last["ratio"] if last["ratio"] else float("inf")
        verdict = "  PASS" if flat <= FLAT_TARGET else "  FAIL"
        print(f"{name:<18}{line}{slow:>8.2f}×{flat:>8.2f}×{verdict}")
    print(f"target: every endpoint at {large:,} people within {FLAT_TARGET}× of {small:,}"
          " (its ratio to the hello-world of the same run)")
    for n in sizes:
        p = min((r["purge"] for r in results[n]), key=lambda p: p["seconds"])
        print(f"purge at {n:,} people: {p['deleted']:,} expired codes in {p['seconds']:.1f} s"
              f" ({p['per_1000_ms']:.1f} ms per 1 000); then nothing to do: {p['idle_ms']:.1f} ms"
              f" (the clone's own aged codes before: {p['backlog']:,} in {p['backlog_s']:.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
