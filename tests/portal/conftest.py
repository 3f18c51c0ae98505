"""Portal fixtures: two customers of `tests.world.make_customer` (ALPHA and BETA), each with a
contact, a final invoice with lines and billed entries, a credit note, a dispute with an
attachment and a payment notice; media in a temporary folder and mail in memory."""

from __future__ import annotations

import pytest

from tests.world import Customer, make_customer


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BILLING_SITE_URL = "http://portal.test"


@pytest.fixture(autouse=True)
def _signin_counts():
    """Each test starts with no sign-in requests counted (portal.throttle)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def alpha(db) -> Customer:
    return make_customer("ALPHA", 1)


@pytest.fixture
def beta(db) -> Customer:
    return make_customer("BETA", 2)
