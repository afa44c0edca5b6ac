"""Benchmark: the app under gunicorn on a seeded database vs a bare Flask hello-world app.

    python bench/run.py [--seconds 6] [--connections 8] [--workers 2] [--worker-class sync]
    BENCH_DATABASE_URL=postgresql+psycopg://... python bench/run.py --reset

Measures, in one run and under the same gunicorn settings, requests/s and p50/p99 latency of
hello-world, the 医保码 refresh endpoint and code page (a logged-in session), and the POS
verify API (a pool of live codes); prints each as a ratio to hello-world; and times the QR
SVG generation of the code page; then POS settle and cancel (each request consumes a token /
a settled settlement made beforehand). Targets: refresh ≥ 15 % of hello-world, settle and
cancel ≥ 12 %, QR ≤ 1 ms median.
Exits 0 whatever the figures (it reports, it does not gate). See bench/README.md.
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

REFRESH_TARGET = 0.15
POS_TARGET = 0.12  # settle and cancel (issue 10)
QR_TARGET_MS = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """A gunicorn process serving ``module:app`` on a random loopback port."""

    def __init__(self, module: str, args, env: dict[str, str]):
        self.port = free_port()
        command = [sys.executable, "-m", "gunicorn", "--pythonpath", f"{BENCH},{ROOT}",
                   "-w", str(args.workers), "-k", args.worker_class, "--threads",
                   str(args.threads), "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
                   f"{module}:app"]
        self.proc = subprocess.Popen(command, env={**os.environ, **env}, cwd=str(ROOT))

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
    return "PASS" if ok else "FAIL"


def main() -> int:
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
    parser.add_argument("--reset", action="store_true",
                        help="wipe BENCH_DATABASE_URL first (never needed for the temp SQLite)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="qy-bench-")
    db_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp.name}/bench.sqlite"
    env = {"BENCH_DB_URL": db_url, "BENCH_SECRET_KEY": secrets.token_hex(32),
           "BENCH_UPLOADS": f"{tmp.name}/uploads", "WEBAPP_ENV": "development"}
    os.environ.update(env)

    import seed
    from wsgi import app

    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"machine: {cores} CPUs, load average {load:.2f}"
          + ("  (busy: other processes compete with the run, figures are depressed)"
             if load > 0.5 * cores else ""))
    print(f"数据库: {db_url.split('@')[-1]}  gunicorn: {args.workers} × {args.worker_class}"
          f" ({args.threads} threads)  负载: {args.connections} connections, "
          f"{args.seconds:g} s each ({'wrk' if args.tool != 'python' and loadgen.shutil.which('wrk') else 'python threads'})")
    with app.app_context():
        seed.create_schema(args.reset)
        started = time.perf_counter()
        seeded = seed.seed(people=args.people)
        print(f"seed: {seeded.demo}; bench rows in {time.perf_counter() - started:.1f} s")

    hello = Gunicorn("hello", args, env)
    server = Gunicorn("wsgi", args, env)
    results = []
    try:
        hello.wait("/")
        server.wait("/auth/login")
        session = login(server.port, seeded.phone, seeded.password)
        check = loadgen.request(server.port, "POST", "/code/me/refresh", headers=session)
        assert check.status == 200 and "svg" in json.loads(check.body), check.status

        def measure(port: int, target: Target):
            if args.warmup > 0:
                loadgen.run(port, target, args.warmup, args.connections, args.load_threads,
                            args.tool)
            spies = profile(target.name) if args.profile and port == server.port else []
            result = loadgen.run(port, target, args.seconds, args.connections,
                                 args.load_threads, args.tool)
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
                 "200", "-o", str(Path(args.profile) / f"{slug}-{pid}.svg")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for pid in server.worker_pids()]

        measure(hello.port, Target("hello-world", "GET", "/"))
        measure(server.port, Target("code refresh", "POST", "/code/me/refresh",
                                    headers=session))
        measure(server.port, Target("code page", "GET", "/code/me",
                                    headers={"Cookie": session["Cookie"]}))
        with app.app_context():
            pool = seed.live_codes(args.codes)
        api_headers = {"X-API-Key": seeded.api_key, "Content-Type": "application/json"}
        probe = loadgen.request(server.port, "POST", "/api/v1/codes/verify",
                                json.dumps({"code": pool[0]}), api_headers)
        assert probe.status == 200, (probe.status, probe.text)
        measure(server.port, Target("POS verify API", "POST", "/api/v1/codes/verify",
                                    headers=api_headers,
                                    bodies=[json.dumps({"code": c}) for c in pool]))
        # Settle and cancel consume their state: one token / one settled settlement per
        # request, made through the services just before, each body used once (Python threads;
        # their ratio uses a hello-world measured with the same load generator). JSON bodies are
        # ASCII (\u escapes): http.client sends str bodies as Latin-1.
        started = time.perf_counter()
        with app.app_context():
            msgid = seed.Msgids(seed.pharmacy())
            tokens = seed.settlement_tokens(args.pool)
            to_cancel = seed.settled(args.pool, msgid)
        print(f"pools: {len(tokens)} settlement tokens, {len(to_cancel)} settled settlements"
              f" in {time.perf_counter() - started:.1f} s")
        if args.tool != "python" and shutil.which("wrk"):
            measure(hello.port, Target("hello (python)", "GET", "/"))
        settles = [json.dumps({"msgid": msgid(), "settlement_token": t, "business_type": "02121",
                               "amount_fen": seed.SETTLE_FEN, "items": seed.SETTLE_ITEMS})
                for t in tokens]
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
        # The baseline again at the end: a shared machine drifts; the ratio uses the mean.
        measure(hello.port, Target("hello-world", "GET", "/"))
    finally:
        hello.stop()
        server.stop()

    first, last = results[0], results[-1]
    base = (first.rps + last.rps) / 2
    first.name, last.name = "hello (start)", "hello (end)"
    print(f"\nhello-world baseline: {first.rps:.0f} req/s at the start, {last.rps:.0f} at the end;"
          f" ratios use the mean {base:.0f}")
    print(f"{'endpoint':<16}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs hello':>10}"
          f"{'requests':>10}{'errors':>8}")
    python_base = next((r.rps for r in results if r.name == "hello (python)"), base)
    for r in results:
        ratio = r.rps / base if base else 0.0
        note = ""
        if r.name == "code refresh":
            note = f"  target ≥ {REFRESH_TARGET:.0%}  {verdict(ratio >= REFRESH_TARGET)}"
        if r.name in ("POS settle", "POS cancel"):
            ratio = r.rps / python_base if python_base else 0.0
            note = f"  target ≥ {POS_TARGET:.0%}  {verdict(ratio >= POS_TARGET)}"
            if python_base != base:
                note += "  (vs hello (python))"
            if r.ran_out:
                note += "  (pool used up early: raise --pool)"
        print(f"{r.name:<16}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{ratio:>10.1%}"
              f"{r.requests:>10}{r.errors:>8}{note}")
    with app.app_context():
        median, p99 = qr_timing(args.qr_runs)
    print(f"\nQR SVG (webapp.codes.services.qr_svg, {args.qr_runs} runs): median {median:.3f} ms,"
          f" p99 {p99:.3f} ms  target ≤ {QR_TARGET_MS:g} ms  {verdict(median <= QR_TARGET_MS)}")
    if any(r.errors for r in results):
        print("警告: some requests failed (see the errors column)")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
