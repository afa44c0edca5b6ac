"""Bounded HTTP load on loopback: wrk when installed (keep-alive, C), else Python threads with
http.client keep-alive connections. Both return requests/s, p50/p99 latency and error count."""

from __future__ import annotations

import http.client
import itertools
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Target:
    """One endpoint to load: method, path, headers and either one body or a pool of bodies."""

    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    bodies: list[str] | None = None  # cycled through, one per request
    # Consumed in order, each once (settle, cancel): one request per body (and per path when
    # ``paths`` is set); the load stops early when they run out. Python threads only.
    consume: bool = False
    paths: list[str] | None = None
    used: int = 0  # how many of the consumable bodies earlier runs (the warm-up) took


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    tool: str
    ran_out: bool = False  # a consumable target used up its bodies before the time was up
    worker_cpu_ms: float = 0.0  # the serving workers' CPU per request (bench/run.py fills it)


def _lua_string(text: str) -> str:
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\""


def _lua_script(target: Target) -> str:
    headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}"
                        for k, v in target.headers.items())
    bodies = target.bodies or [target.body]
    return "\n".join([
        f"local headers = {{{headers}}}",
        "local bodies = {" + ", ".join(_lua_string(b) for b in bodies) + "}",
        "local n = #bodies",
        "local i = math.random(n)",
        "request = function()",
        "  i = i % n + 1",
        f"  return wrk.format({_lua_string(target.method)}, {_lua_string(target.path)}, "
        "headers, bodies[i] ~= '' and bodies[i] or nil)",
        "end",
    ])


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(port: int, target: Target, seconds: float, connections: int,
            threads: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua_script(target))
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--latency", "-s", script.name, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    total = int(re.search(r"([0-9]+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return Result(target.name, rps, p50, p99, total, errors, "wrk")


def run_python(port: int, target: Target, seconds: float, connections: int) -> Result:
    """Fallback: one thread per connection, each a keep-alive http.client connection."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop = time.perf_counter() + seconds
    bodies = target.bodies or [target.body]
    taken = itertools.count(target.used)  # next() is atomic under the GIL

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = slot
        while time.perf_counter() < stop:
            path = target.path
            if target.consume:
                i = next(taken)
                if i >= len(bodies):
                    break
                if target.paths:
                    path = target.paths[i]
            body = bodies[i % len(bodies)]
            i += connections
            started = time.perf_counter()
            try:
                conn.request(target.method, path, body=body or None,
                             headers=target.headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    errors[slot] += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors[slot] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            latencies[slot].append((time.perf_counter() - started) * 1000)
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    if target.consume:
        target.used = min(next(taken), len(bodies))
    flat = sorted(x for per in latencies for x in per)
    q = statistics.quantiles(flat, n=100) if len(flat) > 1 else [flat[0] if flat else 0] * 99
    return Result(target.name, len(flat) / elapsed, q[49], q[98], len(flat), sum(errors),
                  "python", target.consume and target.used >= len(bodies))


def run(port: int, target: Target, seconds: float, connections: int = 8,
        threads: int = 1, tool: str = "auto") -> Result:
    """Load the target for ``seconds``; wrk unless absent or tool='python' (or consumable)."""
    if target.consume:
        return run_python(port, target, seconds, connections)
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return run_wrk(port, target, seconds, connections, threads)
    return run_python(port, target, seconds, connections)


@dataclass
class Reply:
    status: int
    cookies: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(port: int, method: str, path: str, body: str = "",
            headers: dict[str, str] | None = None) -> Reply:
    """One request (for logging in and sanity checks); the cookies it sets."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        cookies = {}
        for line in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = line.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
        return Reply(response.status, cookies, response.read())
    finally:
        conn.close()


def as_json(body: bytes) -> dict:
    return json.loads(body.decode("utf-8"))
