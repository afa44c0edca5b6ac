"""Benchmark: the app under gunicorn on a seeded database vs a bare Flask hello-world app.

    python bench/run.py [--seconds 6] [--connections 8] [--workers 2] [--worker-class sync]
    BENCH_DATABASE_URL=postgresql+psycopg://... python bench/run.py --reset

Runs SQLite and, when ``BENCH_DATABASE_URL`` is set, PostgreSQL (each in a child process of
its own: ``--only URL --json FILE``), and prints ONE table: every row of issue 13 (code
refresh, code page, payment-status poll, POS verify / settle / cancel, QR SVG) with requests/s,
p50/p99, the ratio to the hello-world of the same run, its target and met / not met, per
database. Exits 0 whatever the figures (it reports, it does not gate). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import loadgen  # noqa: E402
from loadgen import Target  # noqa: E402

# Issue 13's targets: (row, minimum ratio to hello-world, maximum p99 ms or None).
TARGETS = [
    ("code refresh", 0.25, 20.0),
    ("code page", 0.20, None),
    ("status poll", 0.40, None),
    ("POS verify", 0.25, None),
    ("POS settle", 0.12, None),
    ("POS cancel", 0.12, None),
    # the same settle, each purchase by another family (no one account locked by all)
    ("POS settle *", 0.12, None),
]
# Rows loaded by Python threads (they consume a pool): their ratio is to a hello-world
# measured with the same load generator.
PYTHON_ROWS = ("POS settle", "POS cancel", "POS settle *")
# The floor of each row (bench/floor.py): its statements (the budget of
# tests/test_statement_budgets.py, which counts what the path sends), whether they run in a
# transaction, and its Redis round trips with REDIS_URL (a rate-limit check; the payment status
# written after a settlement's commit).
FLOORS = [
    ("code refresh", "refresh", False, 0),
    ("code page", "code_page", False, 0),
    ("POS verify", "verify", True, 1),
    ("POS settle", "settle", True, 2),
    ("POS cancel", "cancel", True, 2),
]
QR_TARGET_MS = 0.3  # median
QR_TARGET_P99_MS = 0.6
PROFILE_SUFFIX = {"flamegraph": "svg", "raw": "txt", "speedscope": "json"}
STATUS_CODES = 3  # codes a status poll names (the page sends its latest few)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """A gunicorn process serving ``module:app`` on a random loopback port."""

    def __init__(self, module: str, args, env: dict[str, str], log: Path | None = None):
        self.port = free_port()
        command = [sys.executable, "-m", "gunicorn", "--pythonpath", f"{BENCH},{ROOT}",
                   "-w", str(args.workers), "-k", args.worker_class, "--threads",
                   str(args.threads), "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
                   f"{module}:app"]
        # The app's access log (a JSON line per request, as in production) goes to a file.
        self.log = open(log, "ab") if log else None  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=str(ROOT),
                                     stderr=self.log)

    def wait(self, path: str = "/") -> None:
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.proc.returncode}")
            try:
                loadgen.request(self.port, "GET", path)
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start within 60 s")

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) its workers have used so far (/proc; 0 elsewhere)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.log:
            self.log.close()


def login(port: int, phone: str, password: str) -> dict[str, str]:
    """Log in through the real form; the headers (cookie, CSRF) of the code page's scripts."""
    page = loadgen.request(port, "GET", "/auth/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    cookie = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
    form = {"phone": phone, "password": password, "csrf_token": token.group(1) if token else ""}
    done = loadgen.request(port, "POST", "/auth/login", urlencode(form), {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    if done.status != 302 or "session" not in done.cookies:
        raise SystemExit(f"bench: login failed ({done.status})")
    cookie = f"session={done.cookies['session']}"
    code_page = loadgen.request(port, "GET", "/code/me", headers={"Cookie": cookie})
    csrf = re.search(r'data-csrf="([^"]+)"', code_page.text)
    if code_page.status != 200 or csrf is None:
        raise SystemExit(f"bench: code page failed ({code_page.status})")
    return {"Cookie": cookie, "X-CSRFToken": csrf.group(1), "Accept": "application/json"}


def qr_timing(runs: int) -> tuple[float, float]:
    """Median and p99 (ms) of the code page's QR SVG function over fresh codes."""
    from webapp.codes.services import new_code_string, qr_svg

    codes = [new_code_string() for _ in range(runs)]
    for code in codes[:20]:  # warm up
        qr_svg(code)
    times = []
    for code in codes:
        started = time.perf_counter()
        qr_svg(code)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--load-threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2)
    # sync workers, one per core: the app is CPU-bound Python; threads only add GIL and
    # SQLite-lock contention (gthread 2×4: refresh 122 req/s; sync 2×1: ~400 on 2 cores).
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--qr-runs", type=int, default=1000)
    parser.add_argument("--codes", type=int, default=300, help="verify pool size")
    parser.add_argument("--pool", type=int, default=1500,
                        help="settle tokens and settled settlements made for settle / cancel"
                             " (each used once; a row stops early when its pool runs out)")
    parser.add_argument("--people", type=int, default=2000, help="background registry people")
    parser.add_argument("--profile", metavar="DIR",
                        help="record py-spy flame graphs of the app's workers per endpoint")
    parser.add_argument("--profile-format", choices=["flamegraph", "raw", "speedscope"],
                        default="flamegraph",
                        help="py-spy's output (raw: collapsed stacks, one line per stack)")
    parser.add_argument("--reset", action="store_true",
                        help="wipe BENCH_DATABASE_URL first (never needed for the temp SQLite)")
    parser.add_argument("--create-all", action="store_true",
                        help="build the schema from the models (create_all), not the migrations")
    parser.add_argument("--sqlite-only", action="store_true",
                        help="ignore BENCH_DATABASE_URL")
    parser.add_argument("--seeded", action="store_true",
                        help="the database is seeded already (bench/scale_report.py's clones)")
    parser.add_argument("--no-settle", action="store_true",
                        help="skip POS settle and cancel (and their minute of pool making)")
    parser.add_argument("--redis", metavar="URL", default=os.environ.get(
        "BENCH_REDIS_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")),
        help="Redis for rate limits and the payment status, as production requires (used when"
             " it answers; keys under a prefix of the run's own, deleted after it)")
    parser.add_argument("--no-redis", action="store_true",
                        help="serve without Redis: in-process rate limits, status from the"
                             " database (make run's set-up)")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the floor rows (bench/floor.py: each row's round trips alone)")
    parser.add_argument("--only", metavar="URL", help=argparse.SUPPRESS)  # the child's database
    parser.add_argument("--json", metavar="FILE", help=argparse.SUPPRESS)  # the child's answer
    return parser


def main() -> int:
    args = options().parse_args()
    if args.only is not None:
        figures = measure_database(args, args.only)
        Path(args.json).write_text(json.dumps(figures), encoding="utf-8")
        return 0
    if not args.no_redis and not redis_answers(args.redis):
        print(f"bench: Redis {args.redis} does not answer: served without it (--no-redis)")
        args.no_redis = True
    databases = [("SQLite", "")]
    if os.environ.get("BENCH_DATABASE_URL") and not args.sqlite_only:
        databases.append(("PostgreSQL", os.environ["BENCH_DATABASE_URL"]))
    passed = [a for a in sys.argv[1:] if a != "--sqlite-only"]
    passed += ["--no-redis"] if args.no_redis else ["--redis", args.redis]
    runs = []
    with tempfile.TemporaryDirectory(prefix="qy-bench-runs-") as tmp:
        for label, url in databases:
            out = Path(tmp) / f"{label}.json"
            print(f"== {label} ==", flush=True)
            done = subprocess.run([sys.executable, __file__, *passed, "--only", url,
                                   "--json", str(out)], cwd=str(ROOT))
            if done.returncode != 0 or not out.exists():
                print(f"bench: the {label} run failed (exit {done.returncode})")
                continue
            runs.append((label, json.loads(out.read_text(encoding="utf-8"))))
    print_table(runs)
    print_floors(runs)
    return 0


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def drop_keys(url: str, prefix: str) -> None:
    """Delete the run's keys (rate-limit windows, payment statuses) from the shared Redis."""
    import redis

    client = redis.Redis.from_url(url)
    for pattern in (f"{prefix}*", f"LIMITS:{prefix}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i:i + 1000])


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=str(ROOT))
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, cwd=str(ROOT)).stdout.strip()
    return (out.stdout.strip() or "?") + (" + uncommitted changes" if dirty else "")


def print_table(runs: list[tuple[str, dict]]) -> None:
    """The one table: every row of the issue, its target, per database the figures and
    whether the target is met."""
    if not runs:
        return
    print(f"\ncommit {commit()}; {os.cpu_count()} CPUs; "
          + "; ".join(f"{label}: load average {f['load'][0]:.2f} → {f['load'][1]:.2f}, "
                      f"hello-world {f['hello_rps']:.0f} req/s"
                      f" ({f['hello_cpu_ms']:.2f} ms CPU; {f['tool']}), "
                      + ("Redis" if f["redis"] else "no Redis")
                      for label, f in runs))
    head = f"{'endpoint':<14}{'target':<26}"
    for label, _ in runs:
        head += f"| {label + ': req/s  p50  p99 ms  vs hello  CPU ms':<48}{'':<9}"
    print(head)
    for name, ratio_min, p99_max in TARGETS:
        target = f"≥ {ratio_min:.0%}" + (f", p99 ≤ {p99_max:g} ms" if p99_max else "")
        line = f"{name:<14}{target:<26}"
        for _, figures in runs:
            row = figures["rows"].get(name)
            if row is None:
                line += f"| {'not measured':<57}"
                continue
            ok = row["ratio"] >= ratio_min and (p99_max is None or row["p99_ms"] <= p99_max)
            note = (" errors" if row["errors"] else "") + (" pool out" if row["ran_out"] else "")
            line += (f"| {row['rps']:>7.0f} {row['p50_ms']:>6.2f} {row['p99_ms']:>7.2f}"
                     f" {row['ratio']:>8.1%} {row['cpu_ms']:>7.2f}{'':<10}{verdict(ok):<8}"
                     f"{note:<9}")
        print(line)
    qr_target = f"≤ {QR_TARGET_MS:g} ms, p99 ≤ {QR_TARGET_P99_MS:g}"
    line = f"{'QR SVG':<14}{qr_target:<26}"
    for _, figures in runs:
        qr_median, qr_p99 = figures["qr"]
        ok = qr_median <= QR_TARGET_MS and qr_p99 <= QR_TARGET_P99_MS
        line += f"| median {qr_median:.3f} ms, p99 {qr_p99:.3f} ms{'':<19}{verdict(ok):<17}"
    print(line)
    print("(POS settle / cancel: Python load generator, ratio to a hello-world measured with it;"
          " POS settle: one family's codes, each settlement locks the same account;"
          " POS settle *: many families' codes; QR: in-process, the same code on either"
          " database; CPU ms: the app workers' user + system CPU per request under the load,"
          " from /proc)")


FLOOR_PREFIXES = ("floor: ", "driver: ")


def floor_paths(no_redis: bool) -> list[tuple[str, int, int, str]]:
    """(row, statements, Redis round trips, floor URL path) for each of FLOORS."""
    from tests.test_statement_budgets import BUDGETS

    paths = []
    for row, budget, tx, redis_trips in FLOORS:
        trips = 0 if no_redis else redis_trips
        query = urlencode({"tx": int(tx), "redis": trips})
        paths.append((row, BUDGETS[budget], trips, f"/floor/{BUDGETS[budget]}?{query}"))
    return paths


def measure_floors(floor, measure, args) -> None:
    """Each row's round trips alone, through the app's libraries and through the bare driver."""
    if floor is None:
        return
    for row, _, _, path in floor_paths(args.no_redis):
        measure(floor.port, Target(f"floor: {row}", "GET", path))
        measure(floor.port, Target(f"driver: {row}", "GET", path + "&driver=1"))


def print_floors(runs: list[tuple[str, dict]]) -> None:
    """The second table: each row's target beside its floor and the app's figure."""
    if not any(f.get("floors") for _, f in runs):
        return
    targets = {name: ratio for name, ratio, _ in TARGETS}
    print("\nThe floor of each row: a bare Flask app making only that row's statements (one-row"
          " SELECTs by key: optimistic) and Redis round trips (bench/floor.py), through"
          " Flask-SQLAlchemy's request session and through the bare driver; ratio to the same"
          " hello-world. A target above the first floor cannot be met on this machine by the"
          " path as built (its statements through the ORM session).")
    head = f"{'endpoint':<14}{'target':<9}{'SQL+Redis':<11}"
    for label, _ in runs:
        head += f"| {label + ': app   floor   driver':<40}"
    print(head)
    for row, statements, redis_trips, _ in floor_paths(False):
        line = f"{row:<14}{'≥ ' + format(targets[row], '.0%'):<9}{f'{statements} + {redis_trips}':<11}"
        for _, figures in runs:
            app_row = figures["rows"].get(row)
            low = figures.get("floors", {}).get(f"floor: {row}")
            bare = figures.get("floors", {}).get(f"driver: {row}")
            cells = [f"{x['ratio']:.1%}" if x else "—" for x in (app_row, low, bare)]
            mark = " (target above floor)" if low and low["ratio"] < targets[row] else ""
            if any(x and x["errors"] for x in (low, bare)):
                mark += " errors"
            line += f"| {cells[0]:>7} {cells[1]:>7} {cells[2]:>7}{mark:<17}"
        print(line)


def measure_database(args, url: str) -> dict:
    """One database: seed, serve, load every endpoint; the figures as a dict."""
    tmp = tempfile.TemporaryDirectory(prefix="qy-bench-")
    db_url = url or f"sqlite:///{tmp.name}/bench.sqlite"
    env = {"BENCH_DB_URL": db_url, "BENCH_SECRET_KEY": secrets.token_hex(32),
           "BENCH_UPLOADS": f"{tmp.name}/uploads", "WEBAPP_ENV": "development"}
    prefix = f"qybench-{secrets.token_hex(4)}"
    if args.no_redis:
        os.environ.pop("REDIS_URL", None)
    else:  # as production runs (webapp/config.py refuses to start there without REDIS_URL)
        env.update({"REDIS_URL": args.redis, "BENCH_KEY_PREFIX": prefix})
    os.environ.update(env)

    import seed
    from wsgi import app

    from webapp.extensions import db

    load_start = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"machine: {cores} CPUs, load average {load_start:.2f}"
          + ("  (busy: other processes compete with the run, figures are depressed)"
             if load_start > 0.5 * cores else ""))
    tool = "wrk" if args.tool != "python" and shutil.which("wrk") else "python threads"
    print(f"数据库: {db_url.split('@')[-1]}  gunicorn: {args.workers} × {args.worker_class}"
          f" ({args.threads} threads)  负载: {args.connections} connections, "
          f"{args.seconds:g} s each ({tool}); access log: {tmp.name}/app.log", flush=True)
    print("Redis: " + ("none (rate limits counted in each worker, payment status from the"
                       " database)" if args.no_redis else
                       f"{args.redis} (rate limits and payment status, keys {prefix}*)"),
          flush=True)
    with app.app_context():
        if args.seeded:
            seeded = seed.existing()
        elif args.create_all:
            from sqlalchemy import inspect

            if args.reset:
                db.drop_all()
            elif inspect(db.engine).has_table("user_account"):
                raise SystemExit("bench: the database is not empty (pass --reset to wipe it)")
            db.create_all()
        else:
            seed.create_schema(args.reset)
        if not args.seeded:
            started = time.perf_counter()
            seeded = seed.seed(people=args.people)
            print(f"seed: {seeded.demo}; bench rows in {time.perf_counter() - started:.1f} s",
                  flush=True)

    hello = Gunicorn("hello", args, env)
    server = Gunicorn("wsgi", args, env, log=Path(tmp.name) / "app.log")
    floor = None
    if not args.no_floor:
        import floor as floor_app

        floor_app.prepare(db_url)
        floor = Gunicorn("floor", args, {**env, "FLOOR_DB_URL": db_url,
                                         "FLOOR_REDIS_URL": "" if args.no_redis else args.redis})
    results = []
    try:
        hello.wait("/")
        if floor is not None:
            floor.wait("/")
        server.wait("/auth/login")
        session = login(server.port, seeded.phone, seeded.password)
        shown = []
        for _ in range(STATUS_CODES):
            check = loadgen.request(server.port, "POST", "/code/me/refresh", headers=session)
            assert check.status == 200 and "svg" in json.loads(check.body), check.status
            shown.append(json.loads(check.body)["code"])
            poll_token = json.loads(check.body)["poll_token"]

        def measure(port: int, target: Target):
            if args.warmup > 0:
                loadgen.run(port, target, args.warmup, args.connections, args.load_threads,
                            args.tool)
            spies = profile(target.name) if args.profile and port == server.port else []
            serving = next(g for g in (server, hello, floor) if g is not None and g.port == port)
            cpu = serving.cpu_seconds()
            result = loadgen.run(port, target, args.seconds, args.connections,
                                 args.load_threads, args.tool)
            result.worker_cpu_ms = ((serving.cpu_seconds() - cpu) * 1000 / result.requests
                                    if result.requests else 0.0)
            for spy in spies:
                spy.wait(timeout=60)
            results.append(result)
            return result

        def profile(name: str) -> list[subprocess.Popen]:
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            slug = name.replace(" ", "-")
            return [subprocess.Popen(
                [spy, "record", "-p", str(pid), "-d", str(max(1, round(args.seconds))), "-r",
                 "200", "-f", args.profile_format,
                 "-o", str(Path(args.profile) / f"{slug}-{pid}.{PROFILE_SUFFIX[args.profile_format]}")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for pid in server.worker_pids()]

        measure(hello.port, Target("hello-world", "GET", "/"))
        measure(server.port, Target("code refresh", "POST", "/code/me/refresh",
                                    headers=session))
        measure(server.port, Target("code page", "GET", "/code/me",
                                    headers={"Cookie": session["Cookie"]}))
        # The page's poll: its latest codes, every 2 s per open page (POST, CSRF header).
        # As the page sends it: cookie, CSRF header and the poll token (which spares the session).
        poll_headers = {**session, "Content-Type": "application/x-www-form-urlencoded",
                        "X-Poll-Token": poll_token}
        poll_body = urlencode([("c", c) for c in shown])
        probe = loadgen.request(server.port, "POST", "/code/me/status", poll_body, poll_headers)
        assert probe.status == 200, (probe.status, probe.text)
        measure(server.port, Target("status poll", "POST", "/code/me/status",
                                    headers=poll_headers, body=poll_body))
        with app.app_context():
            pool = seed.live_codes(args.codes)
        api_headers = {"X-API-Key": seeded.api_key, "Content-Type": "application/json"}
        probe = loadgen.request(server.port, "POST", "/api/v1/codes/verify",
                                json.dumps({"code": pool[0]}), api_headers)
        assert probe.status == 200, (probe.status, probe.text)
        measure(server.port, Target("POS verify", "POST", "/api/v1/codes/verify",
                                    headers=api_headers,
                                    bodies=[json.dumps({"code": c}) for c in pool]))
        # Settle and cancel consume their state: one token / one settled settlement per
        # request, made through the services just before, each body used once (Python threads;
        # their ratio uses a hello-world measured with the same load generator). JSON bodies are
        # ASCII (\u escapes): http.client sends str bodies as Latin-1.
        if args.no_settle:
            measure_floors(floor, measure, args)
            measure(hello.port, Target("hello-world", "GET", "/"))
            raise _Done
        started = time.perf_counter()
        with app.app_context():
            msgid = seed.Msgids(seed.pharmacy())
            tokens = seed.settlement_tokens(args.pool)
            to_cancel = seed.settled(args.pool, msgid)
            families = seed.family_tokens(args.pool)
        print(f"pools: {len(tokens)} settlement tokens, {len(to_cancel)} settled settlements,"
              f" {len(families)} tokens of other families"
              f" in {time.perf_counter() - started:.1f} s", flush=True)
        if args.tool != "python" and shutil.which("wrk"):
            measure(hello.port, Target("hello (python)", "GET", "/"))
        def settle_body(token: str) -> str:
            return json.dumps({"msgid": msgid(), "settlement_token": token,
                               "business_type": "02121", "amount_fen": seed.SETTLE_FEN,
                               "items": seed.SETTLE_ITEMS})

        settles = [settle_body(t) for t in tokens]
        probe = loadgen.request(server.port, "POST", "/api/v1/settlements", settles.pop(),
                                api_headers)
        assert probe.status == 201, (probe.status, probe.text)
        measure(server.port, Target("POS settle", "POST", "/api/v1/settlements",
                                    headers=api_headers, bodies=settles, consume=True))
        cancels = [json.dumps({"msgid": msgid(), "reason": "顾客退货"})
                   for _ in to_cancel]
        paths = [f"/api/v1/settlements/{s}/cancel" for s in to_cancel]
        probe = loadgen.request(server.port, "POST", paths.pop(), cancels.pop(), api_headers)
        assert probe.status == 200, (probe.status, probe.text)
        measure(server.port, Target("POS cancel", "POST", "/api/v1/settlements/-/cancel",
                                    headers=api_headers, bodies=cancels, paths=paths,
                                    consume=True))
        if families:
            measure(server.port, Target("POS settle *", "POST", "/api/v1/settlements",
                                        headers=api_headers, consume=True,
                                        bodies=[settle_body(t) for t in families]))
        measure_floors(floor, measure, args)
        # The baseline again at the end: a shared machine drifts; the ratio uses the mean.
        measure(hello.port, Target("hello-world", "GET", "/"))
    except _Done:
        pass
    finally:
        hello.stop()
        server.stop()
        if floor is not None:
            floor.stop()
        if not args.no_redis:
            drop_keys(args.redis, prefix)

    first, last = results[0], results[-1]
    base = (first.rps + last.rps) / 2
    python_base = next((r.rps for r in results if r.name == "hello (python)"), base)
    rows, floors = {}, {}
    for r in results[1:-1]:
        if r.name.startswith("hello"):
            continue
        if r.name.startswith(FLOOR_PREFIXES):
            floors[r.name] = {"rps": r.rps, "ratio": r.rps / base if base else 0.0,
                              "cpu_ms": r.worker_cpu_ms, "errors": r.errors}
            continue
        against = python_base if r.name in PYTHON_ROWS else base
        rows[r.name] = {"rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
                        "ratio": r.rps / against if against else 0.0, "errors": r.errors,
                        "requests": r.requests, "ran_out": r.ran_out,
                        "cpu_ms": r.worker_cpu_ms}
    with app.app_context():
        median, p99 = qr_timing(args.qr_runs)
    print(f"hello-world: {first.rps:.0f} req/s at the start, {last.rps:.0f} at the end"
          + (f"; python-threads hello {python_base:.0f}" if python_base != base else ""))
    tmp.cleanup()
    hello_cpu = [r.worker_cpu_ms for r in (first, last)]
    return {"rows": rows, "floors": floors, "qr": [median, p99], "hello_rps": base, "tool": tool,
            "hello_cpu_ms": sum(hello_cpu) / 2, "redis": not args.no_redis,
            "load": [load_start, os.getloadavg()[0]]}


class _Done(Exception):
    """The run stops early (--no-settle)."""


if __name__ == "__main__":
    sys.exit(main())
