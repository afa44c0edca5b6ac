"""The app as one instance of `make bench-cluster` serves it: production-like sharing.

Every instance reads the same PostgreSQL database (data and server-side sessions), the same
Redis (rate limits, the payment-status cache) and the same SECRET_KEY; it trusts one proxy hop
(nginx) for the client address. Rate limits are the real ones except the POS verify limit,
raised because one key makes all the bench's load.
"""

import os

from webapp import create_app

app = create_app({
    "ENV_NAME": "development",
    "SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DB_URL"],
    "SECRET_KEY": os.environ["BENCH_SECRET_KEY"],
    "UPLOAD_FOLDER": os.environ.get("BENCH_UPLOADS", "/tmp/bench-uploads"),
    "RATELIMIT_STORAGE_URI": os.environ["RATELIMIT_STORAGE_URI"],
    "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", ""),
    "REDIS_URL": os.environ.get("REDIS_URL", ""),
    "TRUSTED_PROXY_HOPS": 1,
    "RATELIMIT_CODE_VERIFY": "10000000 per minute",
})
