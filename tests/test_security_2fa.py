"""Optional TOTP second factor (issue 17 item 17): enrol with a real code computed from the
device's key, a password alone is then half a log-in (pages, admin, session API, token
endpoint), and superusers must enrol when BILLABLE_REQUIRE_2FA_SUPERUSERS is on."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # django-otp's own per-device back-off (1 s, 2 s, ... after a wrong code) would make the
    # right code right after a wrong one fail here; the log-in limit is tested instead.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    cache.clear()
    yield
    cache.clear()


def code_for(device: TOTPDevice, offset_steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def password_login(user, path: str = "/receivables/aging/") -> tuple[Client, object]:
    client = Client()
    response = client.post(
        f"{reverse('login')}?next={path}", {"username": user.username, "password": PASSWORD}
    )
    return client, response


def enrol(user) -> TOTPDevice:
    client = Client()
    client.force_login(user)
    page = client.get(reverse("two_factor"))
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert page.context["secret"].encode() in page.content
    assert b"otpauth://totp/" in page.content
    wrong = client.post(
        reverse("two_factor"), {"code": "000000" if code_for(device) != "000000" else "111111"}
    )
    assert wrong.status_code == 200 and not TOTPDevice.objects.get(pk=device.pk).confirmed
    device.refresh_from_db()
    done = client.post(reverse("two_factor"), {"code": code_for(device)})
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_finance_enrols_then_a_password_alone_reaches_only_the_code_page(finance):
    device = enrol(finance)
    client, response = password_login(finance)
    assert response.status_code == 302
    page = client.get("/receivables/aging/")
    assert page.status_code == 302 and page["Location"].startswith(reverse("two_factor_verify"))
    api = client.get("/api/v1/payments/")
    assert api.status_code == 403 and "authentication code" in api.json()["detail"]
    assert client.get(reverse("account_tokens")).status_code == 302
    bad = client.post(
        reverse("two_factor_verify"), {"code": "12345x", "next": "/receivables/aging/"}
    )
    assert bad.status_code == 200 and b"not current" in bad.content
    device.refresh_from_db()
    # The enrolment used this time step's code; a code is accepted once, so the next step's.
    good = client.post(
        reverse("two_factor_verify"),
        {"code": code_for(device, offset_steps=1), "next": "/receivables/aging/"},
    )
    assert good.status_code == 302 and good["Location"] == "/receivables/aging/"
    assert client.get("/receivables/aging/").status_code == 200
    assert client.get("/api/v1/payments/").status_code == 200


def test_a_code_is_used_once(finance):
    device = enrol(finance)
    device.refresh_from_db()
    code = code_for(device, offset_steps=1)  # the next step's code (within tolerance)
    first, _ = password_login(finance)
    assert first.post(reverse("two_factor_verify"), {"code": code}).status_code == 302
    second, _ = password_login(finance)
    replay = second.post(reverse("two_factor_verify"), {"code": code})
    assert replay.status_code == 200  # refused: already used
    assert second.get("/receivables/aging/").status_code == 302


def test_token_endpoint_wants_the_code_of_an_enrolled_user(finance):
    device = enrol(finance)
    api = APIClient()
    body = {"username": finance.username, "password": PASSWORD}
    missing = api.post("/api/v1/auth/token/", body, format="json")
    assert missing.status_code == 400 and "otp" in missing.json()["errors"]
    device.refresh_from_db()
    ok = api.post("/api/v1/auth/token/", {**body, "otp": code_for(device, 1)}, format="json")
    assert ok.status_code == 200 and ok.json()["token"]


def test_roles_without_the_option_cannot_enrol(auditor, services_manager):
    for user in (auditor, services_manager):
        client = Client()
        client.force_login(user)
        assert client.get(reverse("two_factor")).status_code == 403
        assert not TOTPDevice.objects.filter(user=user).exists()


def test_superusers_must_enrol_when_the_setting_is_on(settings):
    settings.BILLABLE_REQUIRE_2FA_SUPERUSERS = True
    sue = UserFactory(username="sue.super", is_staff=True, is_superuser=True)
    client = Client()
    client.post("/admin/login/?next=/admin/", {"username": "sue.super", "password": PASSWORD})
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith(reverse("two_factor"))
    assert client.get("/receivables/aging/")["Location"].startswith(reverse("two_factor"))
    client.get(reverse("two_factor"))
    device = TOTPDevice.objects.get(user=sue)
    assert client.post(reverse("two_factor"), {"code": code_for(device)}).status_code == 302
    assert client.get("/admin/").status_code == 200
    # Next log-in: password, then the code, then the admin.
    again = Client()
    again.post("/admin/login/?next=/admin/", {"username": "sue.super", "password": PASSWORD})
    assert again.get("/admin/")["Location"].startswith(reverse("two_factor_verify"))
    device.refresh_from_db()
    again.post(reverse("two_factor_verify"), {"code": code_for(device, offset_steps=1)})
    assert again.get("/admin/").status_code == 200


def test_setting_off_leaves_superusers_and_unenrolled_users_alone(finance):
    sue = UserFactory(username="sue.super", is_staff=True, is_superuser=True)
    client = Client()
    client.post("/admin/login/?next=/admin/", {"username": sue.username, "password": PASSWORD})
    assert client.get("/admin/").status_code == 200
    plain, _ = password_login(finance)
    assert plain.get("/receivables/aging/").status_code == 200


def test_wrong_codes_count_against_the_login_limit(finance, settings):
    settings.LOGIN_MAX_FAILURES = 3
    enrol(finance)
    client, _ = password_login(finance)
    for _ in range(3):
        client.post(reverse("two_factor_verify"), {"code": "000001"})
    locked = client.get(reverse("two_factor_verify"))
    assert locked.status_code == 429 and b"Too many failed log-ins" in locked.content


def test_an_enforced_superuser_gets_no_api_token_without_a_second_factor(settings):
    """BILLABLE_REQUIRE_2FA_SUPERUSERS covered only session requests: the token endpoint gave a
    superuser without a device a token for a password alone, and token requests never pass the
    2FA middleware. Now: no token (403), nor use of one made before; once enrolled, the token
    endpoint wants the code as `otp`, as it does for every enrolled user."""
    from core.models import ApiToken
    from core.tokens import token_create

    sue = UserFactory(username="sue.super", is_staff=True, is_superuser=True)
    _, old_token = token_create(user=sue)  # made while the setting was off
    settings.BILLABLE_REQUIRE_2FA_SUPERUSERS = True
    api = APIClient()
    body = {"username": sue.username, "password": PASSWORD}
    refused = api.post("/api/v1/auth/token/", body, format="json")
    assert refused.status_code == 403
    assert "/accounts/2fa/" in refused.json()["detail"]
    assert ApiToken.objects.filter(user=sue).count() == 1  # only the old one
    api.credentials(HTTP_AUTHORIZATION=f"Token {old_token}")
    old = api.get("/api/v1/payments/")
    assert old.status_code == 403 and "/accounts/2fa/" in old.json()["detail"]

    device = enrol(sue)
    assert api.get("/api/v1/payments/").status_code == 200  # enrolled: the old token works again
    api.credentials()
    missing = api.post("/api/v1/auth/token/", body, format="json")
    assert missing.status_code == 400 and "otp" in missing.json()["errors"]
    wrong = api.post("/api/v1/auth/token/", {**body, "otp": "12345x"}, format="json")
    assert wrong.status_code == 400 and "otp" in wrong.json()["errors"]
    assert ApiToken.objects.filter(user=sue).count() == 1
    device.refresh_from_db()
    ok = api.post("/api/v1/auth/token/", {**body, "otp": code_for(device, 1)}, format="json")
    assert ok.status_code == 200 and ok.json()["token"]
    assert ApiToken.objects.filter(user=sue).count() == 2
