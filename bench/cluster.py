"""`make bench-cluster`: two app instances behind nginx, sharing PostgreSQL and Redis.

    .venv/bin/python bench/cluster.py [--seconds 5] [--connections 8] [--workers 1]

Needs PostgreSQL (BENCH_DATABASE_URL names a server, default the local one) and Redis
(REDIS_URL, default redis://127.0.0.1:6379/0; the cluster uses its own key prefix). Installs
Debian's nginx when it is missing. Builds a fresh database ``qybench_cluster`` (dropped at the
end), starts instances A and B (gunicorn, bench/cluster_wsgi.py) and nginx in front of both,
then checks what must hold across machines, each printed PASS/FAIL:

1. a 医保码 shown through A is verified and settled through B, and A's status poll sees it paid;
2. a session made on A works on B; logging out on B ends it on A too;
3. the login rate limit counts across both (alternating A/B, the 6th attempt is refused);
4. killing A (SIGKILL, mid-load) while settlements go through nginx loses none: the client
   retries a failed request with the same msgid, and every token ends in exactly one
   settlement, the ledger check stays clean;
and measures refresh, code page, status poll and POS verify through nginx beside a hello-world
pair behind the same nginx. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import loadgen  # noqa: E402
import pgadmin  # noqa: E402
from loadgen import Target  # noqa: E402
from run import Gunicorn, free_port, login  # noqa: E402

DB_NAME = "qybench_cluster"
NGINX_CONF = """
worker_processes 1;
user root;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream app {{ server 127.0.0.1:{a} max_fails=1 fail_timeout=10s;
                    server 127.0.0.1:{b} max_fails=1 fail_timeout=10s; keepalive 16; }}
    upstream hello {{ server 127.0.0.1:{ha}; server 127.0.0.1:{hb}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            # POSTs are not re-sent to the other instance by nginx (non_idempotent is off): the
            # client retries with the same msgid, which the settlement API makes safe.
            proxy_next_upstream error timeout;
        }}
    }}
    server {{
        listen 127.0.0.1:{hello_port};
        location / {{ proxy_pass http://hello; proxy_http_version 1.1;
                      proxy_set_header Connection ""; }}
    }}
}}
"""


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, name: str, ok: bool, detail: str = "") -> bool:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""),
              flush=True)
        if not ok:
            self.failed.append(name)
        return ok


@contextlib.contextmanager
def output_to(path: Path):
    """Processes started inside write their stdout/stderr (the JSON access log) to ``path``."""
    sys.stdout.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if found:
        return found
    print("cluster: installing Debian's nginx …", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                   stdout=subprocess.DEVNULL)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def kill(instance: Gunicorn) -> None:
    """SIGKILL the instance's master and workers at once (a machine that dies)."""
    for pid in [*instance.worker_pids(), instance.proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    instance.proc.wait(timeout=10)


def api(port: int, path: str, body: dict, key: str):
    return loadgen.request(port, "POST", path, json.dumps(body),
                           {"X-API-Key": key, "Content-Type": "application/json"})


def check_code_across(ok: Checks, a: int, b: int, seeded, msgid) -> None:
    """Code shown on A, settled on B, A's status poll sees it paid."""
    import seed

    session = login(a, seeded.phone, seeded.password)
    page = loadgen.request(a, "GET", "/code/me", headers={"Cookie": session["Cookie"]})
    code = re.search(r'data-code="([^"]+)"', page.text).group(1)
    poll_token = re.search(r'data-poll-token="([^"]+)"', page.text).group(1)
    verify = api(b, "/api/v1/codes/verify", {"code": code}, seeded.api_key)
    token = json.loads(verify.body).get("settlement_token", "") if verify.status == 200 else ""
    settle = api(b, "/api/v1/settlements", {
        "msgid": msgid(), "settlement_token": token, "business_type": "02121",
        "amount_fen": seed.SETTLE_FEN, "items": seed.SETTLE_ITEMS}, seeded.api_key)
    settled = json.loads(settle.body) if settle.status == 201 else {}
    poll = loadgen.request(a, "POST", "/code/me/status", urlencode({"c": code}), {
        **session, "Content-Type": "application/x-www-form-urlencoded",
        "X-Poll-Token": poll_token})  # as the page polls (signed on A, valid on both)
    seen = json.loads(poll.body) if poll.status == 200 else {}
    ok("code shown on A, settled on B, A's status poll sees it paid",
       verify.status == 200 and settle.status == 201 and seen.get("state") == "paid"
       and seen.get("settlement") == settled.get("settlement_id"),
       f"verify {verify.status}, settle {settle.status}, poll {poll.status} {seen.get('state')}")


def check_sessions(ok: Checks, a: int, b: int, seeded) -> None:
    session = login(a, seeded.phone, seeded.password)
    on_b = loadgen.request(b, "GET", "/code/me", headers={"Cookie": session["Cookie"]})
    ok("a session made on A works on B", on_b.status == 200, f"B answered {on_b.status}")
    page = loadgen.request(b, "GET", "/auth/me", headers={"Cookie": session["Cookie"]})
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    out = loadgen.request(b, "POST", "/auth/logout",
                          urlencode({"csrf_token": token.group(1) if token else ""}), {
                              "Cookie": session["Cookie"],
                              "Content-Type": "application/x-www-form-urlencoded"})
    after = loadgen.request(a, "GET", "/code/me", headers={"Cookie": session["Cookie"]})
    ok("logging out on B ends the session on A", out.status in (302, 303) and
       after.status in (302, 303, 401), f"logout {out.status}, A then answered {after.status}")


def check_rate_limit(ok: Checks, a: int, b: int) -> None:
    """The login limit (per client address, RATELIMIT_LOGIN) counts across both instances: the
    status of the page each refused attempt ends on (200 with the error, 429 once limited)."""
    statuses = []
    for n in range(8):
        port = a if n % 2 == 0 else b
        page = loadgen.request(port, "GET", "/auth/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        cookie = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
        form = {"phone": f"1390000{n:04d}", "password": "wrong-Passw0rd",
                "csrf_token": token.group(1) if token else ""}
        done = loadgen.request(port, "POST", "/auth/login", urlencode(form), {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
            "X-Forwarded-For": "203.0.113.9"})
        if done.status in (302, 303):  # a refused form answers by the login page's GET (PRG)
            jar = {**page.cookies, **done.cookies}
            done = loadgen.request(port, "GET", "/auth/login", headers={
                "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
                "X-Forwarded-For": "203.0.113.9"})
        statuses.append(done.status)
    first_refused = next((i for i, s in enumerate(statuses) if s == 429), None)
    ok("login rate limit counts across A and B (5 per minute: the 6th is refused)",
       first_refused == 5, f"statuses {statuses}")


def settle_through_proxy(ok: Checks, port: int, a: Gunicorn, seeded, tokens, msgid,
                         db_url: str) -> None:
    """Settlements through nginx while A is killed; retries with the same msgid."""
    import seed

    bodies = [json.dumps({"msgid": msgid(), "settlement_token": t, "business_type": "02121",
                          "amount_fen": seed.SETTLE_FEN, "items": seed.SETTLE_ITEMS})
              for t in tokens]
    outcome: dict[int, int] = {}
    retries = [0]
    lock = threading.Lock()
    queue = list(range(len(bodies)))

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop(0)
            for attempt in range(8):
                try:
                    r = loadgen.request(port, "POST", "/api/v1/settlements", bodies[i], {
                        "X-API-Key": seeded.api_key, "Content-Type": "application/json"})
                    status = r.status
                except OSError:
                    status = 0
                if status in (200, 201):
                    break
                with lock:
                    retries[0] += 1
                time.sleep(0.2 * (attempt + 1))
            with lock:
                outcome[i] = status

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    while len(outcome) < len(bodies) // 3:
        time.sleep(0.02)
    kill(a)
    killed_at = len(outcome)
    for t in threads:
        t.join()
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.connect() as c:
        made = c.scalar(text("SELECT count(*) FROM settlement WHERE msgid = ANY(:m)"),
                        {"m": [json.loads(b)["msgid"] for b in bodies]})
        used = c.scalar(text("SELECT count(DISTINCT settlement_id) FROM insurance_code "
                             "WHERE settlement_id IN (SELECT id FROM settlement "
                             "WHERE msgid = ANY(:m))"),
                        {"m": [json.loads(b)["msgid"] for b in bodies]})
    engine.dispose()
    good = sum(1 for s in outcome.values() if s in (200, 201))
    ok(f"A killed after {killed_at} of {len(bodies)} settlements: every one answered and made "
       "exactly once", good == len(bodies) == made == used,
       f"answered {good}, settlements {made}, codes used {used}, retries {retries[0]}")
    checked = subprocess.run([sys.executable, "-m", "flask", "--app", "cluster_wsgi", "ledger",
                              "check"], cwd=str(BENCH), capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": f"{BENCH}:{ROOT}"})
    ok("ledger check clean after the kill", checked.returncode == 0,
       (checked.stdout + checked.stderr).strip().splitlines()[-1][:120]
       if (checked.stdout + checked.stderr).strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per instance")
    parser.add_argument("--tokens", type=int, default=300, help="settlements in the kill test")
    args = parser.parse_args()
    args.worker_class, args.threads, args.load_threads = "sync", 1, 1
    server = make_url(os.environ.get("BENCH_DATABASE_URL",
                                     "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    import redis

    redis.Redis.from_url(redis_url).ping()
    nginx = nginx_binary()
    tmp = tempfile.TemporaryDirectory(prefix="qy-cluster-")
    db_url = pgadmin.recreate(server, DB_NAME)
    prefix = f"qycluster-{secrets.token_hex(3)}"
    env = {"BENCH_DB_URL": db_url, "BENCH_SECRET_KEY": secrets.token_hex(32),
           "BENCH_UPLOADS": f"{tmp.name}/uploads", "WEBAPP_ENV": "development",
           "REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": redis_url,
           "RATELIMIT_KEY_PREFIX": prefix}
    os.environ.update(env)
    import seed
    from cluster_wsgi import app

    from webapp.extensions import db

    with app.app_context():
        db.create_all()
        seeded = seed.seed(people=2000)
    ok = Checks()
    instances: list[Gunicorn] = []
    proxy = None
    try:
        with output_to(Path(tmp.name) / "instances.log"):
            a, b = Gunicorn("cluster_wsgi", args, env), Gunicorn("cluster_wsgi", args, env)
            ha, hb = Gunicorn("hello", args, env), Gunicorn("hello", args, env)
        instances = [a, b, ha, hb]
        for inst in instances:
            inst.wait("/healthz" if inst in (a, b) else "/")
        port, hello_port = free_port(), free_port()
        conf = Path(tmp.name) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp.name, a=a.port, b=b.port, ha=ha.port,
                                          hb=hb.port, port=port, hello_port=hello_port))
        proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", tmp.name],
                                 stderr=subprocess.PIPE)
        deadline = time.time() + 15
        while True:
            try:
                loadgen.request(hello_port, "GET", "/")
                break
            except OSError:
                if time.time() > deadline or proxy.poll() is not None:
                    raise SystemExit("cluster: nginx did not start") from None
                time.sleep(0.2)
        print(f"cluster: A :{a.port}, B :{b.port}, nginx :{port} (hello :{hello_port}); "
              f"{args.workers} worker(s) each; PostgreSQL {DB_NAME}; Redis {redis_url}")
        with app.app_context():
            msgid = seed.Msgids(seed.pharmacy())
        check_code_across(ok, a.port, b.port, seeded, msgid)
        check_sessions(ok, a.port, b.port, seeded)
        check_rate_limit(ok, a.port, b.port)
        figures(port, hello_port, seeded, args, app)
        with app.app_context():
            tokens = seed.settlement_tokens(args.tokens)
        settle_through_proxy(ok, port, a, seeded, tokens, msgid, db_url)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=10)
        for inst in instances:
            inst.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        pgadmin.drop(server, DB_NAME)
        tmp.cleanup()
    print("cluster: " + ("all checks passed" if not ok.failed else
                         f"{len(ok.failed)} check(s) FAILED: {', '.join(ok.failed)}"))
    return 1 if ok.failed else 0


def figures(port: int, hello_port: int, seeded, args, app) -> None:
    """The bench rows through nginx (both instances up), beside hello-world behind it."""
    import seed

    session = login(port, seeded.phone, seeded.password)
    code_page = loadgen.request(port, "GET", "/code/me", headers={"Cookie": session["Cookie"]})
    code = re.search(r'data-code="([^"]+)"', code_page.text).group(1)
    poll_token = re.search(r'data-poll-token="([^"]+)"', code_page.text).group(1)
    with app.app_context():
        pool = seed.live_codes(300)
    api_headers = {"X-API-Key": seeded.api_key, "Content-Type": "application/json"}
    targets = [
        (hello_port, Target("hello-world", "GET", "/")),
        (port, Target("code refresh", "POST", "/code/me/refresh", headers=session)),
        (port, Target("code page", "GET", "/code/me", headers={"Cookie": session["Cookie"]})),
        (port, Target("status poll", "POST", "/code/me/status", body=urlencode({"c": code}),
                      headers={**session, "X-Poll-Token": poll_token,
                               "Content-Type": "application/x-www-form-urlencoded"})),
        (port, Target("POS verify API", "POST", "/api/v1/codes/verify", headers=api_headers,
                      bodies=[json.dumps({"code": c}) for c in pool])),
    ]
    results = []
    for p, target in targets:
        loadgen.run(p, target, 1.0, args.connections, 1, "auto")
        results.append(loadgen.run(p, target, args.seconds, args.connections, 1, "auto"))
    base = results[0].rps
    print(f"\n  through nginx (load average {os.getloadavg()[0]:.2f}):")
    print(f"  {'endpoint':<16}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'vs hello':>10}{'errors':>8}")
    for r in results:
        print(f"  {r.name:<16}{r.rps:>8.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
              f"{r.rps / base if base else 0:>10.1%}{r.errors:>8}")
    print()


if __name__ == "__main__":
    sys.exit(main())
