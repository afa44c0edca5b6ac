"""CPU milliseconds per request of every hot path, in-process: a figure a busy machine does not
distort much (``time.process_time`` counts only the time this process ran), for
docs/SCALING.md's capacity sums beside the req/s of ``make bench``.

    .venv/bin/python bench/cost.py [--requests 300]          # temporary SQLite
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/cost.py     # a clone of qybench_people_2000 (seeded when missing)

    .venv/bin/python bench/cost.py --only "POS verify"         # one row (repeatable)
    .venv/bin/python bench/cost.py --profile "POS settle" --sort cumulative [--callees RE]

The ``calls`` column is the Python function calls per request (cProfile's count over a fifth
of the requests): unlike CPU ms it does not move with the machine's speed, which on a shared VM
varies by half between two runs minutes apart, so it is the before/after figure of a change.
``--profile`` prints cProfile's table for one row instead of measuring (``COST_DUMP=FILE``
also writes it as a pstats file, for your own grouping).

The app is the bench's (bench/wsgi.py settings: CSRF, sessions, audit as in production),
driven through Flask's test client (no HTTP server: add the server's own cost, e.g.
gunicorn's hello-world CPU per request, to each row). The POS rows use a client without the
session cookie, as a POS system calls the API. The database server's CPU is not in
these figures (its work is counted as statements: tests/test_statement_budgets.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import pgadmin  # noqa: E402


def cpu_ms(call, n: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per call, over n calls after 10 warm-up calls (pool entries n…n+9)."""
    for j in range(10):
        call(n + j)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        call(i)
    return ((time.process_time() - cpu) * 1000 / n, (time.perf_counter() - wall) * 1000 / n)


def calls_per_request(call, n: int) -> float:
    """Python function calls per call (cProfile's count over n calls, after cpu_ms ran them):
    a figure that does not move with the machine's speed, for before/after comparisons."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(lambda: [call(i) for i in range(n)])
    return pstats.Stats(profiler).total_calls / n  # type: ignore[attr-defined]


def profile(call, n: int, sort: str, callees: str | None = None,
            callers: str | None = None) -> None:
    """Print the 40 costliest functions of n calls (after the same warm-up as cpu_ms)."""
    import cProfile
    import pstats

    for j in range(10):
        call(n + j)
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [call(i) for i in range(n)])
    stats = pstats.Stats(profiler).sort_stats(sort)
    if os.environ.get("COST_DUMP"):
        stats.dump_stats(os.environ["COST_DUMP"])
    stats.print_stats(40)
    if callees:
        stats.print_callees(callees)
    if callers:
        stats.print_callers(callers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", metavar="ROW", help="print a cProfile of one row's "
                        "requests (e.g. 'POS verify') instead of the table")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key (with --profile)")
    parser.add_argument("--callees", metavar="REGEX", help="also print what the functions "
                        "matching REGEX call (with --profile)")
    parser.add_argument("--callers", metavar="REGEX", help="also print who calls the functions "
                        "matching REGEX (with --profile)")
    parser.add_argument("--only", metavar="ROW", action="append",
                        help="measure only this row (repeatable; e.g. under py-spy)")
    args = parser.parse_args()
    n = args.requests
    tmp = tempfile.TemporaryDirectory(prefix="qy-cost-")
    raw = os.environ.get("BENCH_DATABASE_URL", "")
    if raw:
        from scale_report import build_template  # seeds qybench_people_2000 once when missing

        url = pgadmin.recreate(make_url(raw), "qybench_cost",
                               template=build_template(make_url(raw), 2000, rebuild=False))
    else:
        url = f"sqlite:///{tmp.name}/cost.sqlite"
    os.environ.update({"BENCH_DB_URL": url, "BENCH_SECRET_KEY": secrets.token_hex(32),
                       "BENCH_UPLOADS": f"{tmp.name}/uploads", "ACCESS_LOG": "off"})
    import seed
    from flask import Flask
    from wsgi import app

    from webapp.extensions import db

    with app.app_context():
        if not raw:
            db.create_all()
            seeded = seed.seed(people=2000, log=lambda *_: None)
        else:
            seeded = seed.existing()
        codes = seed.live_codes(n + 10 + n // 5)
        msgid = seed.Msgids(seed.pharmacy())
        tokens = seed.settlement_tokens(n + 10 + n // 5)
        to_cancel = seed.settled(n + 10 + n // 5, msgid)
        db.session.remove()

    gc.collect()  # the seed's garbage would otherwise be collected inside whichever row runs first
    gc.freeze()
    client = app.test_client()
    page = client.get("/auth/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(True)).group(1)
    done = client.post("/auth/login", data={"phone": seeded.phone, "password": seeded.password,
                                            "csrf_token": token})
    assert done.status_code in (302, 303), done.status_code
    shown = client.get("/code/me").get_data(True)
    csrf = re.search(r'data-csrf="([^"]+)"', shown).group(1)
    code = re.search(r'data-code="([^"]+)"', shown).group(1)
    poll_token = re.search(r'data-poll-token="([^"]+)"', shown).group(1)
    ajax = {"X-CSRFToken": csrf, "Accept": "application/json"}
    api = {"X-API-Key": seeded.api_key, "Content-Type": "application/json"}
    pos = app.test_client()  # a POS system: its key, no cookie

    def ok(response, *statuses):
        assert response.status_code in statuses, (response.status_code, response.get_data(True))

    hello = Flask("hello")
    hello.add_url_rule("/", "i", lambda: "Hello, World!")
    hello_client = hello.test_client()
    calls = {
        "hello-world (Flask)": lambda i: ok(hello_client.get("/"), 200),
        "code refresh": lambda i: ok(client.post("/code/me/refresh", headers=ajax), 200),
        "code page": lambda i: ok(client.get("/code/me"), 200),
        "status poll": lambda i: ok(client.post(
            "/code/me/status", data={"c": code}, headers={**ajax, "X-Poll-Token": poll_token}),
            200),
        "status poll (session)": lambda i: ok(client.post(
            "/code/me/status", data={"c": code}, headers=ajax), 200),
        "POS verify": lambda i: ok(pos.post(
            "/api/v1/codes/verify", data=json.dumps({"code": codes[i]}), headers=api), 200),
        "POS settle": lambda i: ok(pos.post("/api/v1/settlements", headers=api, data=json.dumps({
            "msgid": msgid(), "settlement_token": tokens[i], "business_type": "02121",
            "amount_fen": seed.SETTLE_FEN, "items": seed.SETTLE_ITEMS})), 201),
        "POS cancel": lambda i: ok(pos.post(
            f"/api/v1/settlements/{to_cancel[i]}/cancel", headers=api,
            data=json.dumps({"msgid": msgid(), "reason": "顾客退货"})), 200),
    }
    if args.profile:
        profile(calls[args.profile], n, args.sort, args.callees, args.callers)
        calls = {}
    chosen = {name: call for name, call in calls.items() if not args.only or name in args.only}
    rows = {name: cpu_ms(call, n) for name, call in chosen.items()}
    counted = n // 5  # pool entries n+10 … : fresh codes, tokens and settlements
    extra = {name: calls_per_request(lambda i, call=call: call(n + 10 + i), counted)
             for name, call in chosen.items()}
    print(f"{url.split('@')[-1].split('?')[0]}; "
          f"{n} requests each; load average {os.getloadavg()[0]:.2f}")
    print(f"{'endpoint':<22}{'CPU ms':>8}{'wall ms':>9}{'calls':>8}")
    for name, (cpu, wall) in rows.items():
        print(f"{name:<22}{cpu:>8.2f}{wall:>9.2f}{extra[name]:>8.0f}")
    if raw:
        with app.app_context():
            db.engine.dispose()
        pgadmin.drop(make_url(raw), "qybench_cost")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
