"""Rate limits on portal sign-in link requests (issue 18): per client address and per e-mail
address, in fixed windows of PORTAL_SIGNIN_WINDOW_SECONDS counted in the shared cache.

The per-e-mail limit applies to any address, known or not, so a 429 says nothing about which
addresses are contacts. Links actually mailed are capped again per contact
(PORTAL_LINKS_PER_HOUR, portal.services)."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str, window: int) -> str:
    return f"portal-signin:{kind}:{hashlib.sha256(value.encode()).hexdigest()}:{window}"


def _hit(key: str, ttl: int) -> int:
    cache.add(key, 0, timeout=ttl)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=ttl)
        return 1


def signin_retry_after(*, address: str, email: str) -> int | None:
    """Count one request; None when it is within both limits, else the seconds until the
    current window ends (the Retry-After)."""
    span = max(1, int(settings.PORTAL_SIGNIN_WINDOW_SECONDS))
    now = time.time()
    window = int(now // span)
    retry = max(1, int((window + 1) * span - now))
    limits = [
        ("addr", address, int(settings.PORTAL_SIGNIN_PER_ADDRESS)),
        ("email", (email or "").strip().lower()[:254], int(settings.PORTAL_SIGNIN_PER_EMAIL)),
    ]
    for kind, value, limit in limits:
        if _hit(_key(kind, value, window), span + 5) > limit:
            return retry
    return None
