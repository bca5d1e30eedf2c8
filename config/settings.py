"""chatapp settings: one file, driven by the environment (see the README's table).

Embedded defaults (SQLite, in-memory channel layer, local media folder) make a laptop run
with no configuration; DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis so that
several server processes can serve one site.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF

from config.env import (
    ConfigurationError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_pairs,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CHATAPP_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    from_env = env_str("SECRET_KEY")
    if from_env:
        return from_env
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Behind TLS (a reverse proxy or a load balancer) everything is locked down.
HTTPS = env_bool("CHATAPP_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Scripts and styles only from our own origin (the page has no inline ones), nothing may
# frame a page, and forms post only to us. 'self' covers our WebSocket too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "axes",
    "chatapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chatapp.web.context_processors.upstream",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'chatapp.sqlite3'}")
# Connections are kept, not opened per ORM call: Channels' database_sync_to_async closes
# "old" connections around every call, which with CONN_MAX_AGE=0 meant a new connection
# (SQLite: the WAL pragmas; PostgreSQL: a TCP connection and a login) per call.
# Health checks replace a connection that broke while idle instead of failing one request.
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool, not CONN_MAX_AGE: under ASGI every HTTP request runs in a thread of its own, so
    # per-thread persistent connections would pile up instead of being reused (Django ticket
    # #33497). A connection goes back to the pool at the end of each request and ORM call.
    # Size it against PostgreSQL's max_connections (docs/operations.md). Added to the URL's
    # own options (sslmode and the like), not in their place.
    _pool_max = env_int("CHATAPP_DB_POOL_MAX", 10, minimum=1)
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, _pool_max),
        "max_size": _pool_max,
        # A request waits this long for a free connection before it fails.
        "timeout": env_float("CHATAPP_DB_POOL_TIMEOUT_SECONDS", 10.0, minimum=0.1),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A thread keeps its connection for a minute. Channels runs every consumer's ORM calls on
    # one thread, so that is one connection per process for all of them.
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not shared-cache memory: tests reach the database from several threads, and
    # only a file gives them WAL's concurrent readers and a writer that waits its turn.
    # One file per test process, so that two test runs on one machine never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels and cache ---------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # channels_redis's pub/sub layer: a frame to a conversation is one PUBLISH, which Redis
    # hands to every process with a socket on it (docs/benchmarks.md, "The relay", item 13).
    # The list-based RedisChannelLayer took three round trips and a Lua script per frame,
    # ~6 times the CPU, and dropped frames once a busy process's shared queue was full.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CHANNEL_LAYERS = {
        # Channels' in-memory layer, swept once a second instead of on every message.
        "default": {"BACKEND": "chatapp.streaming.channel_layer.SweptInMemoryChannelLayer",
                    "CONFIG": {"capacity": 1500}}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): after this many failures for one username from one address,
# that pair is locked out for a while; a successful login clears the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CHATAPP_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CHATAPP_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "chatapp.web.pages.locked_out"
# Mail: only for password resets. Without EMAIL_HOST the reset pages do not exist (Django's
# would accept any address, unthrottled, and log a traceback for want of an SMTP server).
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "chatapp@localhost")
CHATAPP_PASSWORD_RESET = bool(EMAIL_HOST)
# Reset requests (each sends a mail) per client address per rate-limit window.
CHATAPP_PASSWORD_RESET_RATE_LIMIT = env_int("CHATAPP_PASSWORD_RESET_RATE_LIMIT", 5, minimum=0)
# Addresses (or networks, "10.0.0.0/8") of reverse proxies whose X-Forwarded-For and
# X-Forwarded-Proto are believed (config/proxies.py); none by default: a client that reaches a
# server directly cannot choose its address and so dodge the login lockout.
CHATAPP_TRUSTED_PROXIES = env_list("CHATAPP_TRUSTED_PROXIES")
# Audit log (chatapp/audit/): `manage.py prune_audit` deletes entries older than this many
# days; 0 keeps them all.
CHATAPP_AUDIT_RETENTION_DAYS = env_int("CHATAPP_AUDIT_RETENTION_DAYS", 365, minimum=0)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Single sign-on: OpenID Connect (docs/single-sign-on.md) ---------------------------
# On when OIDC_ISSUER is set: the endpoints and keys come from its discovery document.
OIDC_ISSUER = env_str("OIDC_ISSUER")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
# "Sign in with <name>" on the login page; the issuer's host name unless set.
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME") or urlsplit(OIDC_ISSUER).hostname or ""
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
# The claim that lists a person's groups: they become exactly the user's Django groups at each
# sign-in. Empty: groups are left to the admin.
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
# A session that came through the provider is re-checked with it this often (on a page load).
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env_int("OIDC_RECHECK_MINUTES", 15, minimum=1) * 60
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10
# Usernames and passwords (the admin's login too); off, everyone signs in through the provider.
CHATAPP_LOCAL_PASSWORDS = env_bool("CHATAPP_LOCAL_PASSWORDS", True)
if OIDC_ISSUER:
    if not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
        raise ConfigurationError("OIDC_ISSUER needs OIDC_CLIENT_ID and OIDC_CLIENT_SECRET")
    AUTHENTICATION_BACKENDS.append("chatapp.accounts.backends.ProviderBackend")
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "chatapp.accounts.middleware.ProviderRecheck",
    )
if not CHATAPP_LOCAL_PASSWORDS:
    if not OIDC_ISSUER:
        raise ConfigurationError("CHATAPP_LOCAL_PASSWORDS=false needs OIDC_ISSUER")
    AUTHENTICATION_BACKENDS.remove("django.contrib.auth.backends.ModelBackend")

# --- Static and media -----------------------------------------------------------------
STATIC_URL = "/static/"
# The container image collects static files at build time, outside the var/ volume.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if env_bool("CHATAPP_PLAIN_STATIC", False)
            # Hashed and compressed; module imports point at the hashed names too.
            else "config.staticfiles.ModuleAwareStaticFilesStorage"
        )
    },
}
# Uploads are private: served only through authorised views, never under a public URL.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# One uploaded file at most (the Messages API takes 32 MB per request). Larger uploads are
# answered 413 from their Content-Length, before the body is read (config/limits.py).
CHATAPP_MAX_UPLOAD_MB = env_int("CHATAPP_MAX_UPLOAD_MB", 32, minimum=1)
CHATAPP_MAX_UPLOAD_BYTES = CHATAPP_MAX_UPLOAD_MB * 1024 * 1024
# Form fields (not files) beyond this are refused; every JSON endpoint takes far less.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Uploaded files larger than this are spooled to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Claude ---------------------------------------------------------------------------
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL")
# Set by `make run` when it starts the local stand-in for the Messages API.
OFFLINE_UPSTREAM_URL = env_str("OFFLINE_UPSTREAM_URL")
OFFLINE_UPSTREAM = bool(OFFLINE_UPSTREAM_URL) and not ANTHROPIC_API_KEY
if OFFLINE_UPSTREAM:
    ANTHROPIC_BASE_URL = OFFLINE_UPSTREAM_URL
ANTHROPIC_TIMEOUT_SECONDS = env_float("ANTHROPIC_TIMEOUT_SECONDS", 600.0, minimum=1.0)
ANTHROPIC_CONNECT_TIMEOUT_SECONDS = env_float(
    "ANTHROPIC_CONNECT_TIMEOUT_SECONDS", 10.0, minimum=0.1
)
ANTHROPIC_MAX_RETRIES = env_int("ANTHROPIC_MAX_RETRIES", 2, minimum=0)
# Base64 bytes one image may take: 10 MB on the Claude API; set 5000000 for Amazon Bedrock
# or Google Cloud. Images are prepared to fit it once, at upload (docs/images.md).
ANTHROPIC_MAX_IMAGE_BASE64_BYTES = env_int(
    "ANTHROPIC_MAX_IMAGE_BASE64_BYTES", 10_000_000, minimum=100_000
)

CHATAPP_DEFAULT_MODEL = env_str("CHATAPP_DEFAULT_MODEL", "claude-sonnet-5-5")
CHATAPP_MAX_OUTPUT_TOKENS = env_int("CHATAPP_MAX_OUTPUT_TOKENS", 8192, minimum=1)
CHATAPP_MAX_MESSAGE_CHARS = env_int("CHATAPP_MAX_MESSAGE_CHARS", 100_000, minimum=1)
# Deltas are gathered for this long before they go to the browser: fewer, larger frames.
CHATAPP_COALESCE_MS = env_int("CHATAPP_COALESCE_MS", 30, minimum=0)
# A streaming reply's text is saved at most this often (and always at its end).
CHATAPP_CHECKPOINT_SECONDS = env_float("CHATAPP_CHECKPOINT_SECONDS", 2.0, minimum=0.1)
# A stream that breaks after it started is requested again at most this many times.
CHATAPP_STREAM_RECOVERIES = env_int("CHATAPP_STREAM_RECOVERIES", 2, minimum=0)
# Running replies are announced alive this often; one silent for 3 intervals is interrupted.
CHATAPP_HEARTBEAT_SECONDS = env_float("CHATAPP_HEARTBEAT_SECONDS", 5.0, minimum=0.5)
# On SIGTERM, replies get this long to finish before they are checkpointed as interrupted.
CHATAPP_SHUTDOWN_GRACE_SECONDS = env_float("CHATAPP_SHUTDOWN_GRACE_SECONDS", 10.0, minimum=0.0)
# Messages kept whole (besides the question) when older turns are summarised.
CHATAPP_COMPACTION_KEEP_MESSAGES = env_int("CHATAPP_COMPACTION_KEEP_MESSAGES", 4, minimum=0)
# The built-in tools (search_documents, calculator, current_datetime) and the tool-round limit.
CHATAPP_TOOLS = env_bool("CHATAPP_TOOLS", True)
CHATAPP_TOOL_ROUNDS = env_int("CHATAPP_TOOL_ROUNDS", 8, minimum=1)
# Anthropic's server tools (web search), billed per use; needs a real ANTHROPIC_API_KEY.
CHATAPP_SERVER_TOOLS = env_bool("CHATAPP_SERVER_TOOLS", False)
# "Auto" routing asks the cheapest model when its rule is unsure (docs/routing.md).
CHATAPP_ROUTER_CONFIRM = env_bool("CHATAPP_ROUTER_CONFIRM", True)

# --- Batch jobs (Message Batches API; docs/batch-jobs.md) -------------------------------------
CHATAPP_BATCH_MAX_DOCUMENTS = env_int("CHATAPP_BATCH_MAX_DOCUMENTS", 10_000, minimum=1)
# The API's per-batch limits; a larger job is split into several Message Batches.
CHATAPP_BATCH_MAX_REQUESTS = env_int("CHATAPP_BATCH_MAX_REQUESTS", 100_000, minimum=1)
CHATAPP_BATCH_MAX_BYTES = env_int("CHATAPP_BATCH_MAX_BYTES", 256 * 1024 * 1024, minimum=1024)
# A running batch is first looked at after this long, then ever less often up to the maximum.
CHATAPP_BATCH_POLL_SECONDS = env_float("CHATAPP_BATCH_POLL_SECONDS", 2.0, minimum=0.0)
CHATAPP_BATCH_POLL_MAX_SECONDS = env_float("CHATAPP_BATCH_POLL_MAX_SECONDS", 60.0, minimum=0.0)
# How often the poller looks for new jobs and cancellations when it has nothing due.
CHATAPP_BATCH_IDLE_SECONDS = env_float("CHATAPP_BATCH_IDLE_SECONDS", 1.0, minimum=0.05)

# --- Operations: probes, metrics (docs/operations.md) -----------------------------------------
# GET /metrics answers this bearer token (or a staff session); unset, only staff sessions.
CHATAPP_METRICS_TOKEN = env_str("METRICS_TOKEN")
# /readyz fails when no batch poller went round its loop for this long (a tick that reads a
# large batch's results can take minutes). Off for deployments that run no poller.
CHATAPP_READY_NEEDS_BATCH_POLLER = env_bool("CHATAPP_READY_NEEDS_BATCH_POLLER", True)
CHATAPP_BATCH_POLLER_STALE_SECONDS = env_int("CHATAPP_BATCH_POLLER_STALE_SECONDS", 300, minimum=5)
# Embedded setup only (no Redis): the poller's heartbeat is this file's modification time.
CHATAPP_BATCH_POLLER_HEARTBEAT_FILE = VAR_DIR / "batch-poller.alive"
# Probes and scrapes often come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Safety: content checks and rate limits (docs/security.md) --------------------------------
# "kind or category=flag|redact|withhold|off", e.g. "personal_data=redact,uncertainty=off";
# anything not named is flagged. Checked at start-up (chatapp/apps.py).
CHATAPP_CONTENT_ACTIONS = env_pairs("CHATAPP_CONTENT_ACTIONS")
CHATAPP_CONTENT_KEEP_ORIGINALS = env_bool("CHATAPP_CONTENT_KEEP_ORIGINALS", False)
# Phone numbers written without a +country prefix are read as this region's.
CHATAPP_PHONE_REGION = env_str("CHATAPP_PHONE_REGION", "US").upper()
# Per user, per window (cache-backed); 0 turns a limit off.
CHATAPP_MESSAGE_RATE_LIMIT = env_int("CHATAPP_MESSAGE_RATE_LIMIT", 30, minimum=0)
CHATAPP_UPLOAD_RATE_LIMIT = env_int("CHATAPP_UPLOAD_RATE_LIMIT", 60, minimum=0)
# Cost estimates (one upstream count_tokens each); the composer asks one per pause in typing.
CHATAPP_ESTIMATE_RATE_LIMIT = env_int("CHATAPP_ESTIMATE_RATE_LIMIT", 120, minimum=0)
CHATAPP_RATE_LIMIT_WINDOW_SECONDS = env_int("CHATAPP_RATE_LIMIT_WINDOW_SECONDS", 60, minimum=1)

if not ANTHROPIC_API_KEY and not OFFLINE_UPSTREAM and env_bool("CHATAPP_REQUIRE_UPSTREAM", False):
    raise ConfigurationError("Set ANTHROPIC_API_KEY, or OFFLINE_UPSTREAM_URL for the offline demo")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"secrets": {"()": "config.logfilters.RedactSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["secrets"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs every request URL at INFO; keep the noise (and headers) out.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "anthropic": {"level": "WARNING"},
        # Lockouts are warnings; each failed login and the start-up banner are not news.
        "axes": {"level": "WARNING"},
    },
}
CSRF_FAILURE_VIEW = "chatapp.web.endpoints.csrf_failure"
