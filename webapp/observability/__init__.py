"""Observability for whoever runs the app: request ids, JSON access log, health checks, metrics.

- every request gets a request id (a sane inbound ``X-Request-Id`` or a new one), echoed in the
  ``X-Request-Id`` answer header and written into the audit rows of that request;
- one JSON line per request on the ``webapp.access`` logger (see requestlog.py);
- ``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus) for load balancers and monitoring.
"""

from __future__ import annotations

from flask import Flask


def init_observability(app: Flask) -> None:
    """Register the request-id/access-log hooks and the health and metrics endpoints."""
    from webapp.observability import health, requestlog

    requestlog.init_requestlog(app)
    app.register_blueprint(health.bp)
