"""API rate limits (issue 17 item 18): per token (or, for a browser session, per user) and per
client address, in Django's cache (Redis via CACHE_URL in production, shared by every web
process). Over the limit: 429 JSON with Retry-After (core.api.errors).

Outside the core.api package on purpose: DRF imports the throttle classes while defining
APIView, before core.api (which imports drf-spectacular, which imports DRF's views) can load.

Rates are settings read on each request, `N/s`, `N/min`, `N/hour` or `N/day`:
BILLABLE_API_RATE_TOKEN (each token or session user) and BILLABLE_API_RATE_ADDRESS (each client
address, authenticated or not, the token endpoint included). Empty: no limit.

The client address is REMOTE_ADDR, as for the log-in limits (core.login.client_address), never a
client-sent X-Forwarded-For: DRF's own `get_ident` takes that header verbatim when NUM_PROXIES is
unset, so a new header on each request escaped the limit (or charged someone else's address). A
proxy in front must pass the client's address on as REMOTE_ADDR (docs/reliability.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingRateThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting, None) or None


class TokenRateThrottle(_SettingRateThrottle):
    scope = "token"
    setting = "BILLABLE_API_RATE_TOKEN"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # the address limit applies
        token_pk = getattr(request.auth, "pk", None)
        ident = f"token-{token_pk}" if token_pk is not None else f"user-{user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AddressRateThrottle(_SettingRateThrottle):
    scope = "address"
    setting = "BILLABLE_API_RATE_ADDRESS"

    def get_ident(self, request: Any) -> str:
        # Imported here: DRF imports this module while defining APIView (see above).
        from core.login import client_address

        return client_address(request)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
