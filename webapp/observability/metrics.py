"""Prometheus metrics: per-route latency, request counts, and counters of business events.

The business counters follow the audit trail: when a transaction that recorded one of the
``AUDITED`` actions commits, its counter goes up (a rolled-back action counts nothing), so a
service only has to audit what it does. Rate-limit refusals are the 429 answers.

Under several worker processes set ``PROMETHEUS_MULTIPROC_DIR`` (see the README): /metrics then
adds up every worker's numbers.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import event
from sqlalchemy.orm import Session

REQUEST_LATENCY = Histogram(
    "webapp_request_duration_seconds", "Time to answer a request, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REQUESTS = Counter("webapp_requests", "Answered requests by route template and status.",
                   ["method", "route", "status"])
SETTLEMENTS = Counter("webapp_settlements", "Settlements committed (web and API).")
SETTLEMENT_CANCELS = Counter("webapp_settlement_cancels", "Settlements cancelled.")
LOGIN_FAILURES = Counter("webapp_login_failures", "Failed logins (wrong phone or password).")
RATE_LIMITED = Counter("webapp_rate_limit_refusals", "Requests refused by a rate limit (429).")

# Audit action → the counter it moves when its transaction commits.
AUDITED: dict[str, Counter] = {
    "settlement.create": SETTLEMENTS,
    "settlement.cancel": SETTLEMENT_CANCELS,
    "account.login_failed": LOGIN_FAILURES,
}
_PENDING = "webapp_metrics_pending"


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    REQUEST_LATENCY.labels(method, route).observe(seconds)
    REQUESTS.labels(method, route, str(status)).inc()
    if status == 429:
        RATE_LIMITED.inc()


def audited(session: Session, action: str) -> None:
    """Note an audited action; its counter moves when the session commits."""
    counter = AUDITED.get(action)
    if counter is not None:
        session.info.setdefault(_PENDING, []).append(counter)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for counter in session.info.pop(_PENDING, []):
        counter.inc()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
