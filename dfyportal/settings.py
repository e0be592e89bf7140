"""One env-driven settings module; `.env.example` lists every variable.

Every deploy-specific value comes from the environment; `.env.example` lists them all.
With DJANGO_DEBUG off, missing secrets stop start-up. With it on (the embedded default that
`make run` uses) development secrets are generated once into `var/` and reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

import dj_database_url
import django_stubs_ext
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

# Lets admin/forms/querysets be subscripted at run time, as the type hints do.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name)
    if not raw:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    try:
        return int(raw) if raw else default
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{name} must be a whole number, not {raw!r}."
        ) from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in env_str(name, default).split(",") if part.strip()]


DEBUG = env_bool("DJANGO_DEBUG")
# Absolute (a relative DFY_VAR_DIR is taken from the working directory as before), so the
# file cache under it does not trip Django's "relative LOCATION" warning in every process.
VAR_DIR = Path(env_str("DFY_VAR_DIR") or BASE_DIR / "var").absolute()


def _private_dir(path: Path) -> Path:
    """The embedded default keeps the database (with encrypted keys), sessions' cache and dev
    secrets under var/: readable by the owner only, including a var/ made by older versions."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def _development_secrets() -> dict[str, str]:
    """Secrets for the embedded default, generated on first use and kept in var/."""
    path = VAR_DIR / "dev-secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    _private_dir(VAR_DIR)
    generated = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DFY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    # Written with O_EXCL so two processes starting at once cannot both generate a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        stored = json.loads(path.read_text())
        return stored
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle)
    return generated


def _secret(name: str) -> str:
    value = env_str(name)
    if value:
        return value
    if DEBUG:
        return _development_secrets()[name]
    raise ImproperlyConfigured(
        f"{name} is not set. It is required when DJANGO_DEBUG is off; see .env.example "
        "(or set DJANGO_DEBUG=true for local development)."
    )


SECRET_KEY = _secret("DJANGO_SECRET_KEY")
# Keys for encrypting stored Instantly API secrets: comma-separated Fernet keys, newest first.
# Deliberately independent of SECRET_KEY so either can rotate alone.
DFY_ENCRYPTION_KEYS = [
    k for k in _secret("DFY_ENCRYPTION_KEYS").split(",") if k.strip()
]

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else ""
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Applications -------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "orders",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before LoginRequiredMiddleware, the first to read request.user (orders/access_prefetch.py).
    "orders.access_prefetch.AccessPrefetchMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # axes last, as its docs ask, so it sees the final authentication outcome.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # Static files from the app server in production; in DEBUG runserver serves them.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "orders.user_backend.ModelBackendUserReadOnce",
]

ROOT_URLCONF = "dfyportal.urls"
WSGI_APPLICATION = "dfyportal.wsgi.application"

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
                "csp.context_processors.nonce",
                "orders.context_processors.workspace",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# --- Data ---------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'dfyportal.sqlite3'}",
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _sqlite_path = Path(DATABASES["default"]["NAME"])
    if _sqlite_path.parent == VAR_DIR:
        _private_dir(VAR_DIR)
    # SQLite creates the file with the process umask (0644) and its -wal/-shm files with the
    # database's own mode: create it 0600 first so the ciphertext stays the owner's.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(_sqlite_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with contextlib.suppress(FileNotFoundError):
        if _sqlite_path.stat().st_uid == os.getuid():
            _sqlite_path.chmod(0o600)
    # web, worker and beat share one SQLite file: WAL plus IMMEDIATE transactions keep
    # concurrent writers from failing with "database is locked" on lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that a real Celery worker started by a test can share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "dfyportal.cache.ReusedClientRedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    # File based so that web and worker processes share it (locmem would be per process).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth and sessions --------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AXES_FAILURE_LIMIT = env_int("DFY_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("DFY_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
# Lock a username only together with the client's address, so that someone guessing a lead's
# password locks out themselves, not the lead. Behind a proxy the client's address comes from
# X-Forwarded-For, trusted for exactly DFY_TRUSTED_PROXY_COUNT hops (docs/security.md).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
DFY_TRUSTED_PROXY_COUNT = env_int("DFY_TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "orders.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_SENSITIVE_PARAMETERS = ["password"]

# --- Security -----------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Workers reach the built-in sandbox over plain http inside the deployment; never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^sandbox/"]
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY") else None
)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_NAME = "sessionid" if DEBUG else "__Secure-sessionid"
CSRF_COOKIE_NAME = "csrftoken" if DEBUG else "__Secure-csrftoken"
CSRF_COOKIE_HTTPONLY = (
    True  # htmx gets the token from hx-headers on <body>, not the cookie
)
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from the cache (Redis in production) and written through to the database,
# so a request costs no session query while a restart loses no log-in.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Staged HSTS: start small in production and raise DJANGO_HSTS_SECONDS once HTTPS is proven.
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Request size (DATA_UPLOAD) ---------------------------------------------------------------
# The order builder posts the whole draft at once: 9 fields per domain row and 3 per mailbox,
# plus about 20 for the page itself, and a draft holds at most 200 domains and 1,000 mailboxes
# (orders/builder_forms.py: FIELDS_PER_*, MAX_DRAFT_*; tests/orders/test_draft_limits.py keeps
# these in step). Django's default of 1,000 fields refused drafts of ~7 Microsoft domains.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200 * 9 + 1_000 * 3 + 20  # 4,820
# The largest draft typed to every column's length in a non-Latin script is about 3.4 MB once
# URL-encoded (9 bytes per character); Django's default is 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Email --------------------------------------------------------------------------------
# In development the mails go to files under var/mail/ (one per message): printed by the
# worker they flooded the `make run` console, as the demo's orders reach ready or stuck.
EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.console.EmailBackend",
)
if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_FILE_PATH = env_str("DJANGO_EMAIL_FILE_PATH") or str(
        _private_dir(VAR_DIR) / "mail"
    )
DEFAULT_FROM_EMAIL = env_str(
    "DJANGO_DEFAULT_FROM_EMAIL", "DFY Portal <portal@localhost>"
)

# --- Celery (https://docs.celeryq.dev/en/stable/userguide/configuration.html) -------------
# On Redis, a message a worker took but did not acknowledge goes back to the queue after this
# long. It must exceed the longest a live worker may hold a message: the longest hard time
# limit (660 s) plus the longest retry countdown (notifications back off up to 3,600 s), or a
# second worker would run a task the first is still waiting on. The price: after a worker is
# killed, its unfinished tasks run again only this much later (docs/tasks.md), unless a sweeper
# resumes them sooner (placements, cancellations and domain checks are).
# tests/integration/test_durable_delivery.py checks the sum against every task.
DFY_BROKER_VISIBILITY_TIMEOUT_SECONDS = 2 * 3600
if REDIS_URL:
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": DFY_BROKER_VISIBILITY_TIMEOUT_SECONDS
    }
else:
    # A host part (meaningless to this transport) keeps kombu from warning "No hostname was
    # supplied" on every connection of web, worker and beat.
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://localhost//"
    _broker_dir = _private_dir(VAR_DIR) / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 300
# At-least-once: a task is acknowledged when it has finished, so a worker that dies in the
# middle (SIGKILL, OOM, a lost host) leaves its message to be delivered again, and a pool
# process that dies has its message put back at once. Every task is idempotent by
# construction for this (docs/tasks.md says how each is guarded).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Losing the broker connection does not kill running tasks (a placement may be inside its one
# POST); an acknowledgement lost with the connection only means a redelivery, which the
# task's own guard turns into a no-op.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat intervals (seconds); the schedule itself is static in dfyportal/celery.py.
DFY_SWEEP_INTERVAL = env_int("DFY_SWEEP_INTERVAL", 60)
DFY_POLL_INTERVAL = env_int("DFY_POLL_INTERVAL", 60)
# Mailbox health after delivery (docs/health.md): slower, it follows every delivered mailbox.
DFY_HEALTH_INTERVAL = env_int("DFY_HEALTH_INTERVAL", 900)

# --- The money path (orders/workflow) ------------------------------------------------------
# Reconciliation checks (any result) before an unknown outcome goes to a person.
DFY_RECONCILE_MAX_CHECKS = env_int("DFY_RECONCILE_MAX_CHECKS", 12)
# Lifecycle bounds (docs/lifecycle-bounds.md): after these a person is told, once.
DFY_RECONCILE_MAX_AGE_SECONDS = env_int("DFY_RECONCILE_MAX_AGE_SECONDS", 7200)
DFY_RECONCILE_BACKOFF_SECONDS = env_int("DFY_RECONCILE_BACKOFF_SECONDS", 60)
DFY_RECONCILE_BACKOFF_CAP_SECONDS = env_int("DFY_RECONCILE_BACKOFF_CAP_SECONDS", 900)
DFY_PENDING_APPROVAL_REMIND_SECONDS = env_int(
    "DFY_PENDING_APPROVAL_REMIND_SECONDS", 3 * 86400
)
DFY_NEEDS_REAPPROVAL_REMIND_SECONDS = env_int(
    "DFY_NEEDS_REAPPROVAL_REMIND_SECONDS", 3 * 86400
)
DFY_APPROVED_MAX_SECONDS = env_int("DFY_APPROVED_MAX_SECONDS", 1800)
# An order awaiting a payment at Instantly reminds its requester once after this long.
DFY_AWAITING_CHECKOUT_REMIND_SECONDS = env_int(
    "DFY_AWAITING_CHECKOUT_REMIND_SECONDS", 86400
)
# A claim older than this is treated as a crashed worker (above the place task's time limit).
DFY_SUBMITTING_STALE_SECONDS = env_int("DFY_SUBMITTING_STALE_SECONDS", 300)
# An approved order untouched this long lost its message; the sweeper re-enqueues it.
DFY_APPROVED_STALE_SECONDS = env_int("DFY_APPROVED_STALE_SECONDS", 120)
# Tolerated clock difference with Instantly when matching created timestamps.
DFY_RECONCILE_CLOCK_SKEW_SECONDS = env_int("DFY_RECONCILE_CLOCK_SKEW_SECONDS", 300)
# Attempts that sent nothing (429, connection refused) before a person is asked.
DFY_PLACE_MAX_TRIES = env_int("DFY_PLACE_MAX_TRIES", 5)
DFY_STUCK_AFTER_HOURS = env_int("DFY_STUCK_AFTER_HOURS", 72)
DFY_QUOTE_REUSE_SECONDS = env_int("DFY_QUOTE_REUSE_SECONDS", 120)
# How long a credential reveal page shows the passwords before its script removes them
# (docs/security.md, "Credential reveals").
DFY_CREDENTIALS_REVEAL_SECONDS = env_int("DFY_CREDENTIALS_REVEAL_SECONDS", 300)
# Absolute links in emails.
DFY_SITE_URL = env_str("DFY_SITE_URL", "http://127.0.0.1:8000")
DFY_WEBHOOK_TIMEOUT_SECONDS = env_int("DFY_WEBHOOK_TIMEOUT_SECONDS", 3)
# Webhooks go only to public addresses on these ports (docs/webhooks.md).
DFY_WEBHOOK_ALLOWED_PORTS = [
    int(port) for port in env_list("DFY_WEBHOOK_ALLOWED_PORTS", "443,8443")
]
# Each email or webhook delivery is tried this often, with exponential backoff from this base.
DFY_NOTIFICATION_MAX_ATTEMPTS = env_int("DFY_NOTIFICATION_MAX_ATTEMPTS", 6)
DFY_NOTIFICATION_RETRY_BASE_SECONDS = env_int("DFY_NOTIFICATION_RETRY_BASE_SECONDS", 30)

# --- Renewals (docs/renewals.md) -----------------------------------------------------------
# A cancellation scheduled before a renewal needs a second lead's approval when it cancels
# more mailboxes than this (or when an operator scheduled it).
DFY_SCHEDULED_CANCEL_APPROVAL_OVER = env_int("DFY_SCHEDULED_CANCEL_APPROVAL_OVER", 10)
# How often beat looks for due scheduled cancellations (hourly: a missed run catches up).
DFY_RENEWAL_RUN_INTERVAL = env_int("DFY_RENEWAL_RUN_INTERVAL", 3600)

# --- Instantly ----------------------------------------------------------------------------
INSTANTLY_LIVE_BASE_URL = env_str(
    "INSTANTLY_LIVE_BASE_URL", "https://api.instantly.ai/api/v2"
)
# Where the portal's own sandbox answers for workers (the web process serves /sandbox/).
INSTANTLY_SANDBOX_BASE_URL = env_str(
    "INSTANTLY_SANDBOX_BASE_URL",
    f"http://127.0.0.1:{env_int('PORT', 8000)}/sandbox/api/v2",
)
INSTANTLY_TIMEOUT_SECONDS = float(env_str("INSTANTLY_TIMEOUT_SECONDS", "10"))
INSTANTLY_DEADLINE_SECONDS = float(env_str("INSTANTLY_DEADLINE_SECONDS", "30"))
# Changes to the sandbox's per-provider bounds, by provider number, e.g.
# {3: {"max_mailboxes": 50}} (docs/instantly.md); none by default. Code only, not the env.
SANDBOX_PROVIDER_RULES: dict[int | str, dict[str, object]] = {}

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "filters": {
        "client_errors_short": {
            "()": "dfyportal.logfilters.ClientErrorsWithoutTraceback"
        },
        "quiet_sandbox_access": {"()": "dfyportal.logfilters.QuietSandboxAccess"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Naming "django" drops the console handler Django adds in DEBUG; its records reach
        # the root handler once instead of being printed twice in two formats.
        "django": {"level": env_str("DJANGO_LOG_LEVEL", "INFO")},
        # 403/404 are one line each; only 5xx keep their traceback.
        "django.request": {"filters": ["client_errors_short"]},
        "django.server": {"filters": ["quiet_sandbox_access"]},
        # One line per Instantly request; `make run` sets WARNING, as the fulfilment poll
        # pages through every account of the demo each minute.
        "orders.instantly": {"level": env_str("DFY_INSTANTLY_LOG_LEVEL", "INFO")},
        # httpx logs every request line at INFO; keep it quiet so URLs with cursors stay out.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
