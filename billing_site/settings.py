"""Billable settings, read from the environment (SPEC section 8).

Defaults make `make run` work on a fresh machine: the embedded PostgreSQL that `make run` starts
(data under var/), tasks run in-process, console e-mail. Production (DEBUG off) refuses to start without SECRET_KEY.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "y", "on"}:
        return True
    if value in {"0", "false", "no", "n", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (yes/no, true/false, 1/0), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment, or DEBUG=1 for development."
        )
    SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc files served locally
    "simple_history",
    "core.apps.CoreConfig",
    "agreements",
    "timesheets",
    "invoicing",
    "receivables",
    "portal",
    "records",
    "demo",
]

MIDDLEWARE = [
    "core.middleware.BodyLimitMiddleware",  # first: an over-limit body is refused unread
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified()
    "core.two_factor.SecondFactorMiddleware",  # enrolled but no code yet: the code page only
    "django.contrib.messages.middleware.MessageMiddleware",
    # CSP and no-store; above XFrameOptionsMiddleware, so it sees only a view's own
    # X-Frame-Options (SAMEORIGIN on the PDF preview), not the DENY default added after it.
    "core.middleware.SecurityHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "billing_site.urls"
WSGI_APPLICATION = "billing_site.wsgi.application"

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
                "core.roles.roles_context",
                "core.middleware.csp_context",
            ],
            "builtins": ["core.templatetags.money"],
        },
    }
]

# PostgreSQL only. Unset: the embedded server `make run` starts (scripts/run_embedded.py).
EMBEDDED_DATABASE_URL = "postgres://postgres@127.0.0.1:54329/billable"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or EMBEDDED_DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must be a PostgreSQL URL (postgres://user@host/name)")
DATABASES["default"]["TEST"] = {
    "NAME": env_str("TEST_DATABASE_NAME", f"test_{DATABASES['default']['NAME']}")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
# Authentication and sessions (issue 17; core.login, core.tokens). Failed log-ins are counted
# per username and, more loosely, per client address, on every path that checks a password.
AUTHENTICATION_BACKENDS = ["core.login.RateLimitedModelBackend"]
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 50)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)
# API tokens (core.tokens): stored hashed, expire after this many days.
BILLABLE_API_TOKEN_TTL_DAYS = env_int("BILLABLE_API_TOKEN_TTL_DAYS", 90)
# A session ends after this many hours without a request (each request renews it).
BILLABLE_SESSION_IDLE_HOURS = env_int("BILLABLE_SESSION_IDLE_HOURS", 8)
SESSION_COOKIE_AGE = BILLABLE_SESSION_IDLE_HOURS * 3600
SESSION_SAVE_EVERY_REQUEST = True
# Second factor (core.two_factor): optional TOTP for billing admins, finance and superusers;
# on, superusers must enrol before anything else.
BILLABLE_REQUIRE_2FA_SUPERUSERS = env_bool("BILLABLE_REQUIRE_2FA_SUPERUSERS", False)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Billable")
# API rate limits (core.throttling), `N/s`, `N/min`, `N/hour` or `N/day`; empty: none.
BILLABLE_API_RATE_TOKEN = env_str("BILLABLE_API_RATE_TOKEN", "1200/min")
BILLABLE_API_RATE_ADDRESS = env_str("BILLABLE_API_RATE_ADDRESS", "3000/min")
# Shared cache (login attempt counts, idempotency): CACHE_URL=redis://... in production.
_cache_url = env_str("CACHE_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
            # Installs sharing one Redis keep their counts apart (e.g. CACHE_KEY_PREFIX=billable).
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX"),
        }
        if _cache_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "billable"}
    )
}
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
# The firm's day boundaries: billing dates are dates in this zone (core.dates).
BILLING_TIME_ZONE = env_str("BILLING_TIME_ZONE", "UTC")

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Whitenoise reads the app's static folders directly (no collectstatic): on in development and
# in `make run`, which serves with DEBUG off (scripts/run_embedded.py).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Mail: EMAIL_URL (smtp://user:pass@host:port, consolemail://, ...) or Django's EMAIL_*.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_email_url = env_str("EMAIL_URL")
if _email_url:
    from urllib.parse import unquote, urlparse

    _parsed = urlparse(_email_url)
    if _parsed.scheme in {"smtp", "smtps", "submission"}:
        EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        EMAIL_HOST = _parsed.hostname or "localhost"
        EMAIL_PORT = _parsed.port or (465 if _parsed.scheme == "smtps" else 587)
        EMAIL_HOST_USER = unquote(_parsed.username or "")
        EMAIL_HOST_PASSWORD = unquote(_parsed.password or "")
        EMAIL_USE_SSL = _parsed.scheme == "smtps"
        EMAIL_USE_TLS = _parsed.scheme == "submission"
    elif _parsed.scheme == "consolemail":
        EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    elif _parsed.scheme == "locmem":
        EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    else:
        raise ImproperlyConfigured(f"EMAIL_URL scheme {_parsed.scheme!r} is not supported")
else:
    EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "billing@billable.example")

# Celery: without a broker, tasks run in-process (eager), so `make run` needs no Redis.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis transport: an unacknowledged (acks_late) task whose worker died is delivered again after
# this many seconds. Longer than the longest task; the reliability suite lowers it to seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
# Runs (core/runs.py): a running run's worker beats every RUN_HEARTBEAT_SECONDS; a run with no
# beat for RUN_STALE_SECONDS has lost its worker and is resumed by the reclaim-dead-runs sweep.
RUN_HEARTBEAT_SECONDS = env_int("RUN_HEARTBEAT_SECONDS", 15)
RUN_STALE_SECONDS = env_int("RUN_STALE_SECONDS", 60)
CELERY_TIMEZONE = BILLING_TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "billable")
# One entry per job; each has a management-command twin (README, "Worker and beat").
CELERY_BEAT_SCHEDULE = {
    "reconcile-nightly": {
        "task": "timesheets.tasks.reconcile_task",
        "schedule": crontab(hour=1, minute=0),
    },
    "generate-invoices-monthly": {
        "task": "invoicing.tasks.generate_previous_month_task",
        "schedule": crontab(hour=3, minute=0, day_of_month=1),
    },
    "requeue-stale-runs": {
        "task": "invoicing.tasks.requeue_stale_runs_task",
        "schedule": crontab(minute="*/10"),
    },
    "expire-upload-previews": {
        "task": "core.tasks.expire_upload_previews_task",
        "schedule": crontab(minute=17),
    },
    "reclaim-dead-runs": {
        "task": "invoicing.tasks.reclaim_dead_runs_task",
        "schedule": 30.0,  # seconds: with RUN_STALE_SECONDS, a dead run resumes within 2 min
    },
    "dunning-daily": {
        "task": "receivables.tasks.dunning_task",
        "schedule": crontab(hour=7, minute=0),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.tokens.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.api.BillableAutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "COERCE_DECIMAL_TO_STRING": True,
    # Rate limits (core.throttling): BILLABLE_API_RATE_TOKEN, BILLABLE_API_RATE_ADDRESS.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.TokenRateThrottle",
        "core.throttling.AddressRateThrottle",
    ],
    "EXCEPTION_HANDLER": "core.api.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Billable API",
    "DESCRIPTION": "Professional services billing: agreements, time, flags, invoices, receivables.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Security (issue 17): the docs' files come from this site, the schema needs a login.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Separate request/response components, so read-only fields are not demanded on input.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "invoicing.models.InvoiceRun.Status",
        "InvoiceStatusEnum": "invoicing.models.Invoice.Status",
        "FlagStatusEnum": "timesheets.models.Flag.Status",
        "ReminderStatusEnum": "receivables.models.Reminder.Status",
        "DisputeStatusEnum": "receivables.models.Dispute.Status",
    },
}

# Business configuration.
# The seller on invoices and e-invoices (SPEC 3.1, 3.2, 8). The defaults are the demo firm's;
# a real firm sets every one of them (approval refuses an invoice whose e-invoice would lack one).
BILLING_FIRM_NAME = env_str("BILLING_FIRM_NAME", "Northwind IT Services")
BILLING_FIRM_ADDRESS = env_str("BILLING_FIRM_ADDRESS", "1 Harbour Street")
BILLING_FIRM_CITY = env_str("BILLING_FIRM_CITY", "Dublin")
BILLING_FIRM_POSTAL_CODE = env_str("BILLING_FIRM_POSTAL_CODE", "D02 X285")
BILLING_FIRM_COUNTRY = env_str("BILLING_FIRM_COUNTRY", "IE")
BILLING_FIRM_VAT_ID = env_str("BILLING_FIRM_VAT_ID", "IE6388047V")
BILLING_FIRM_REGISTRATION = env_str(
    "BILLING_FIRM_REGISTRATION", "Registered in Ireland, no. 123456"
)
BILLING_FIRM_EMAIL = env_str("BILLING_FIRM_EMAIL", "billing@northwind.example")
BILLING_FIRM_IBAN = env_str("BILLING_FIRM_IBAN", "IE29AIBK93115212345678")
BILLING_FIRM_BIC = env_str("BILLING_FIRM_BIC", "AIBKIE2D")
BILLING_FIRM_BANK = env_str("BILLING_FIRM_BANK", "Allied Irish Banks")
BILLING_PAYMENT_INSTRUCTIONS = env_str(
    "BILLING_PAYMENT_INSTRUCTIONS", "Bank transfer; please quote the invoice number."
)
BILLING_FIRM_LOGO = env_str("BILLING_FIRM_LOGO", "")
# Accounting exports (export_accounting): QuickBooks item, Xero account and tax types, DATEV
# ledger (SKR03 revenue accounts per VAT category[rate], e.g. S19 = 8400 Erlöse 19 % USt).
BILLING_QBO_ITEM = env_str("BILLING_QBO_ITEM", "Services")
BILLING_XERO_SALES_ACCOUNT = env_str("BILLING_XERO_SALES_ACCOUNT", "200")
BILLING_XERO_TAX_TYPES = env_str(
    "BILLING_XERO_TAX_TYPES",
    "Z=Zero Rated Income,E=Exempt Income,AE=Reverse Charge,K=Zero Rated EC Services,"
    "G=Zero Rated Income,O=No VAT",
)
BILLING_DATEV_CONSULTANT = env_str("BILLING_DATEV_CONSULTANT", "1001")
BILLING_DATEV_CLIENT = env_str("BILLING_DATEV_CLIENT", "1")
BILLING_DATEV_FISCAL_YEAR_START = env_str("BILLING_DATEV_FISCAL_YEAR_START", "0101")
BILLING_DATEV_ACCOUNT_LENGTH = env_int("BILLING_DATEV_ACCOUNT_LENGTH", 4)
BILLING_DATEV_CURRENCY = env_str("BILLING_DATEV_CURRENCY", "EUR")
BILLING_DATEV_DEBTOR_ACCOUNT = env_str("BILLING_DATEV_DEBTOR_ACCOUNT", "10000")
BILLING_DATEV_REVENUE_ACCOUNTS = env_str(
    "BILLING_DATEV_REVENUE_ACCOUNTS", "S19=8400,S7=8300,Z=8200,E=8100,AE=8337,K=8336,G=8120,O=8200"
)
BILLING_IMPORT_MAX_BYTES = env_int("BILLING_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
# A JSON body to an import endpoint (parsed in memory); CSV bodies and uploads may be larger.
BILLING_JSON_MAX_BYTES = env_int("BILLING_JSON_MAX_BYTES", 10 * 1024 * 1024)
# Any other body (Django reads these into memory): 2.5 MB, Django's default.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
# Uploaded files stream to a temporary file on disk past this size (not kept in memory).
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024)
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Upload previews never confirmed are deleted after this many minutes (core/previews.py).
BILLING_PREVIEW_TTL_MINUTES = env_int("BILLING_PREVIEW_TTL_MINUTES", 120)
# Columns per row and bytes per cell an import reads at most (core/reading/files.py).
BILLING_IMPORT_MAX_COLUMNS = env_int("BILLING_IMPORT_MAX_COLUMNS", 1000)
# How imports read dates written with / . - and numbers (SPEC 1.4); each import may override them.
BILLING_DATE_ORDER = env_str("BILLING_DATE_ORDER", "mdy")
BILLING_DECIMAL = env_str("BILLING_DECIMAL", "point")
if BILLING_DATE_ORDER not in ("mdy", "dmy", "ymd"):
    raise ImproperlyConfigured("BILLING_DATE_ORDER must be mdy, dmy or ymd")
if BILLING_DECIMAL not in ("point", "comma"):
    raise ImproperlyConfigured("BILLING_DECIMAL must be point or comma")
# Drafts billing more entries than this render their preview in a worker (invoicing.previews).
BILLING_PREVIEW_INLINE_ENTRIES = env_int("BILLING_PREVIEW_INLINE_ENTRIES", 200)
BILLING_DUNNING_DAYS = [int(d) for d in env_list("BILLING_DUNNING_DAYS", ["7", "30", "60"])]
BILLING_CAPACITY_HOURS_PER_DAY = env_int("BILLING_CAPACITY_HOURS_PER_DAY", 8)
# Refresh the KPI tile's stored unbilled value after each write that changes it (a background
# task). The bench turns it off: its tasks run in-process and would add the refresh to the
# import, reconciliation and invoice run it times.
BILLING_KPI_REFRESH_AFTER_WRITES = env_bool("BILLING_KPI_REFRESH_AFTER_WRITES", True)


def env_dispute_categories(name: str, default: str) -> dict[str, tuple[str, int]]:
    """`key=Label:SLA days; ...` -> {key: (label, days)}; the SLA is in calendar days."""
    categories: dict[str, tuple[str, int]] = {}
    for item in env_str(name, default).split(";"):
        if not item.strip():
            continue
        key, _, rest = item.partition("=")
        label, _, days = rest.rpartition(":")
        key, label = key.strip().lower(), label.strip()
        if not key or not label or not days.strip().isdigit() or len(key) > 32:
            raise ImproperlyConfigured(f"{name}: {item.strip()!r} is not key=Label:days")
        categories[key] = (label, int(days))
    if not categories:
        raise ImproperlyConfigured(f"{name} names no category")
    return categories


# Dispute categories with their resolution SLA in calendar days (docs/receivables.md).
BILLING_DISPUTE_CATEGORIES = env_dispute_categories(
    "BILLING_DISPUTE_CATEGORIES",
    "overbilling=Overbilling:10; outage=Service outage credit:15; "
    "misclassified=Misclassified work:10; rate=Wrong rate or terms:10; other=Other:20",
)
# A dispute credit or re-bill above this amount (in the invoice's currency) needs a second
# person: `1000.00` for every currency, or `EUR=1000.00; USD=1200.00; JPY=150000` with an optional
# bare amount for the rest (receivables.disputes.four_eyes_amount, docs/receivables.md).
BILLING_DISPUTE_FOUR_EYES_AMOUNT = env_str("BILLING_DISPUTE_FOUR_EYES_AMOUNT", "1000.00")
BILLING_DISPUTE_ATTACHMENT_MAX_BYTES = env_int(
    "BILLING_DISPUTE_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024
)
BILLING_DISPUTE_ATTACHMENTS_PER_MESSAGE = env_int("BILLING_DISPUTE_ATTACHMENTS_PER_MESSAGE", 3)
# Where the site is reached from outside: links in portal e-mails.
BILLING_SITE_URL = env_str("BILLING_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Customer portal (docs/portal.md): sign-in links are single-use and short-lived.
PORTAL_LINK_MINUTES = env_int("PORTAL_LINK_MINUTES", 30)
PORTAL_LINKS_PER_HOUR = env_int("PORTAL_LINKS_PER_HOUR", 5)
# Sign-in link requests per client address and per e-mail address per window (429 beyond).
PORTAL_SIGNIN_WINDOW_SECONDS = env_int("PORTAL_SIGNIN_WINDOW_SECONDS", 900)
PORTAL_SIGNIN_PER_ADDRESS = env_int("PORTAL_SIGNIN_PER_ADDRESS", 20)
PORTAL_SIGNIN_PER_EMAIL = env_int("PORTAL_SIGNIN_PER_EMAIL", 5)
PORTAL_SESSION_HOURS = env_int("PORTAL_SESSION_HOURS", 12)
PORTAL_COOKIE_NAME = "billable_portal"

# Production hardening; `check --deploy` is clean when DEBUG is off.
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes speak plain HTTP inside the network
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Off only for plain HTTP on 127.0.0.1 (`make run`); behind TLS keep the default.
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
# Pages are never framed; the PDF preview view opts in with @xframe_options_sameorigin.
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "WARNING"},
    },
}
