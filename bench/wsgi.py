"""The app as the benchmark serves it: the real factory, the bench database, high limits.

Rate limits are raised (one POS key and one logged-in user make all the load); everything
else — CSRF, sessions, security headers, audit — is as in production.
"""

import os

from webapp import create_app

app = create_app({
    "ENV_NAME": "development",
    "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DB_URL"],
    "SECRET_KEY": os.environ["BENCH_SECRET_KEY"],
    "UPLOAD_FOLDER": os.environ.get("BENCH_UPLOADS", "/tmp/bench-uploads"),
    "RATELIMIT_CODE_VERIFY": "10000000 per minute",
    "RATELIMIT_LOGIN": "10000 per minute",
    "RATELIMIT_ENABLED": os.environ.get("BENCH_RATELIMIT", "1") == "1",
    # With REDIS_URL (bench/run.py sets it when Redis answers, as production requires): the
    # run's keys under a prefix of its own.
    "RATELIMIT_KEY_PREFIX": os.environ.get("BENCH_KEY_PREFIX", ""),
    "PAID_STATUS_PREFIX": os.environ.get("BENCH_KEY_PREFIX", "qy") + ":paid:",
})
