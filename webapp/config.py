"""Configuration classes per environment; instance config and environment variables override."""

import os


class BaseConfig:
    """Settings shared by every environment."""

    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    # Uploads larger than the policy limit get a friendly form error; this is the hard stop
    # above it, answered with a Chinese 413 page.
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = 60 * 60 * 4
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_LOGIN = "5 per minute"
    RATELIMIT_REGISTER = "10 per hour"
    RATELIMIT_FACE = "20 per 10 minutes"
    RATELIMIT_INVITATION = "30 per 10 minutes"
    RATELIMIT_CODE_VERIFY = "120 per minute"
    SESSION_COOKIE_SECURE = False
    TESTING = False


class DevelopmentConfig(BaseConfig):
    """Local development: SQLite in the instance folder, demo data."""

    DEBUG = False


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
