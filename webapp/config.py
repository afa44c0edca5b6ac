"""Configuration classes per environment; instance config and environment variables override."""

import os
from collections.abc import Mapping
from typing import Any


class BaseConfig:
    """Settings shared by every environment."""

    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # A pooled connection idle longer than this is pinged before use (webapp/dbpool.py; 0 pings
    # at every checkout, like pool_pre_ping). SQLite files are never pinged.
    DB_PING_IDLE_SECONDS = 10.0
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    # Sessions live on the server (webapp/sessions.py) and end at logout or a password change;
    # Flask-Login's "basic" protection would only mark a session non-fresh (used by no view)
    # and rewrite it whenever a phone changes network.
    SESSION_PROTECTION = None
    # Uploads larger than the policy limit get a friendly form error; this is the hard stop
    # above it, answered with a Chinese 413 page.
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = 60 * 60 * 4
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Redis down: keep counting in this process (with a logged warning) instead of failing.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # No X-RateLimit-* headers on every limited answer: writing them reads the limit's window
    # back from the store (with Redis, a GET and a TTL: two more round trips on every POS verify,
    # settle and cancel). A 429 still says when to come back: Retry-After
    # (webapp.extensions.add_retry_after), read only when refusing.
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_LOGIN = "5 per minute"
    RATELIMIT_REGISTER = "10 per hour"
    RATELIMIT_FACE = "20 per 10 minutes"
    RATELIMIT_INVITATION = "30 per 10 minutes"
    RATELIMIT_CODE_VERIFY = "120 per minute"
    # Failed logins per phone (counted in the database) before the SMS code is also asked for.
    RATELIMIT_LOGIN_PHONE = "5 per minute"
    RATELIMIT_SMS_SEND = "10 per 10 minutes"
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted
    # (werkzeug ProxyFix). 0 = none: the client address is the socket's peer.
    TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", "0") or 0)
    # The host names the app answers to (Flask's TRUSTED_HOSTS; the environment variable of that
    # name, comma-separated, overrides it; ".example.cn" also matches its subdomains): a request
    # naming another Host gets 400 (webapp.errors.untrusted_host), so that no link the app
    # builds from a request (the invitation's) points elsewhere. The status poll's lane
    # (webapp/codes/lane.py) builds no link and answers a valid poll token whatever the Host.
    # None: any host (development, tests).
    TRUSTED_HOSTS: list[str] | None = None
    # SMS: the sender class ("module:Class"; default the outbox table) and the code rules.
    SMS_SENDER = os.environ.get("SMS_SENDER", "webapp.sms.outbox:OutboxSender")
    SMS_OUTBOX_PAGE = False
    SMS_CODE_DIGITS = 6
    SMS_CODE_VALID_SECONDS = 5 * 60
    SMS_CODE_MAX_ATTEMPTS = 5
    SMS_RESEND_SECONDS = 60
    SMS_DAILY_MAX = 10
    SESSION_COOKIE_SECURE = False
    TESTING = False


class DevelopmentConfig(BaseConfig):
    """Local development: SQLite in the instance folder, demo data."""

    DEBUG = False
    # The simulated SMS outbox at /auth/dev/sms (404 in testing and production).
    SMS_OUTBOX_PAGE = True


class TestingConfig(BaseConfig):
    """The test suite: fast, isolated; CSRF is switched back on by the tests that prove it."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    WTF_CSRF_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"


class ProductionConfig(BaseConfig):
    """Production: PostgreSQL from DATABASE_URL, Redis for rate limits, secure cookies."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


class ConfigError(RuntimeError):
    """A setting that stops start-up; the message names it (in Chinese, for the operator)."""


def config_class(name: str) -> type[BaseConfig]:
    """The configuration class of a WEBAPP_ENV name; ConfigError naming the valid ones."""
    try:
        return CONFIGS[name]
    except KeyError:
        valid = "、".join(CONFIGS)
        raise ConfigError(f"WEBAPP_ENV 的值 {name!r} 无效，可选值：{valid}") from None


def check_production(settings: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Refuse to start production without PostgreSQL, Redis and a configured secret key.

    settings is the configuration before defaults are filled in (classes, instance config,
    the caller's overrides); environ the process environment. Raises ConfigError.
    """
    problems = []
    url = environ.get("DATABASE_URL") or settings.get("SQLALCHEMY_DATABASE_URI") or ""
    if not url:
        problems.append("未设置 DATABASE_URL（生产环境须使用 PostgreSQL 数据库连接串）")
    elif url.startswith("sqlite"):
        problems.append("DATABASE_URL 不能使用 SQLite，生产环境须使用 PostgreSQL")
    redis = environ.get("REDIS_URL") or str(settings.get("RATELIMIT_STORAGE_URI") or "")
    if not redis.startswith(("redis://", "rediss://", "redis+")):
        problems.append("未设置 REDIS_URL（多个进程共用的限流存储）")
    if not (environ.get("SECRET_KEY") or settings.get("SECRET_KEY")):
        problems.append("未设置 SECRET_KEY（会话签名密钥，各实例须一致）")
    if problems:
        raise ConfigError("生产环境配置不安全，已停止启动：" + "；".join(problems))
