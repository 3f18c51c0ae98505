"""Security (issue 9): no card number is ever stored; log-ins are rate-limited per address too.

(`check --deploy` with production settings, secure session and CSRF cookies in production and the
per-username login limit are tested in tests/test_foundation.py; they are not repeated here.)

Card numbers: payments carrying card numbers in their Reference (16-digit Visa/Mastercard/
Discover, 15-digit Amex, 19-digit, with spaces, dashes or glued to text and invoice numbers) are
recorded through every door: the import service, the `import_payments` command, the API (JSON
create, JSON import, raw CSV import) and the "record a payment" page. After each, every text
column of every table in the database (history, admin log and idempotency store included) is
searched for the card's digits. A trial is one card through one door.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from receivables.models import Payment
from receivables.services import payment_import
from tests.factories import AccountFactory, UserFactory

# Test numbers that pass the Luhn check (published by the card networks for testing).
CARDS = {
    "visa": "4111111111111111",
    "mastercard": "5555555555554444",
    "amex": "378282246310005",
    "discover": "6011000990139424",
}


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch) * (2 if i % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


def _fix_luhn(prefix: str) -> str:
    return next(prefix + str(d) for d in range(10) if _luhn_ok(prefix + str(d)))


CARDS["visa19"] = _fix_luhn("411111111111111111")  # a 19-digit card number


def formats(digits: str) -> list[str]:
    spaced = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return [
        digits,
        spaced,
        spaced.replace(" ", "-"),
        f"card {digits} thanks",
        f"INV-2026-00001/{digits}",
        f"paid w/ {spaced} for INV-2026-00002",
    ]


def text_columns() -> list[tuple[str, str]]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json')"
        )
        return cur.fetchall()


def stored_anywhere(digits: str) -> list[str]:
    """Every table.column whose text, digits only, contains the card's digits (one query)."""
    parts = [
        f'(SELECT \'{table}.{column}\' FROM "{table}" WHERE regexp_replace("{column}"::text, '
        f"'[^0-9]', '', 'g') LIKE %(pattern)s LIMIT 1)"
        for table, column in text_columns()
    ]
    with connection.cursor() as cur:
        cur.execute(" UNION ALL ".join(parts), {"pattern": f"%{digits}%"})
        return [r[0] for r in cur.fetchall()]


def payments_csv(rows: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    out.write("Payment ID,Date,Account ID,Amount,Currency,Reference,Method\r\n")
    for pid, ref in rows:
        quoted = '"' + ref.replace('"', '""') + '"'
        out.write(f"{pid},2026-02-01,CARD-ACC,10.00,USD,{quoted},card\r\n")
    return out.getvalue().encode()


@pytest.mark.django_db(transaction=True)
def test_no_card_number_is_ever_stored(trial_log, client_for, tmp_path):
    AccountFactory(external_id="CARD-ACC", name="Card Payer")
    finance = UserFactory(username="card-fin", roles=["Finance"])
    api = APIClient()
    api.force_authenticate(finance)
    page = client_for(finance)

    def pid() -> str:
        return f"CP-{uuid.uuid4().hex[:10]}"

    # Canary: the search finds a card written past the services (so a clean result means clean).
    Payment.objects.create(
        external_id="CANARY",
        date=dt.date(2026, 2, 1),
        account=AccountFactory(external_id="CANARY-ACC"),
        amount=10,
        reference="card 4012 8888 8888 1881",
    )
    assert "receivables_payment.reference" in stored_anywhere("4012888888881881")
    Payment.objects.filter(external_id="CANARY").delete()

    doors = {
        "import service": lambda ref: payment_import(
            file=payments_csv([(pid(), ref)]), user=finance
        ),
        "import command": lambda ref: _command(tmp_path, payments_csv([(pid(), ref)])),
        "API create": lambda ref: api.post(
            "/api/v1/payments/",
            {
                "payment_id": pid(),
                "account_id": "CARD-ACC",
                "date": "2026-02-01",
                "amount": "10.00",
                "reference": ref,
                "method": "card",
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        ),
        "API import JSON": lambda ref: api.post(
            "/api/v1/payments/import/",
            [
                {
                    "Payment ID": pid(),
                    "Date": "2026-02-01",
                    "Account ID": "CARD-ACC",
                    "Amount": "10.00",
                    "Reference": ref,
                }
            ],
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        ),
        "API import CSV": lambda ref: api.generic(
            "POST",
            "/api/v1/payments/import/",
            payments_csv([(pid(), ref)]),
            content_type="text/csv",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        ),
        "payment page": lambda ref: page.post(
            reverse("receivables:payment_new"),
            {
                "account": "CARD-ACC",
                "date": "2026-02-01",
                "amount": "10.00",
                "currency": "USD",
                "reference": ref,
                "method": "card",
                "external_id": pid(),
                # Every trial is the same customer, amount and date: the clerk answers the
                # likely-duplicate question with "Record it anyway".
                "confirm_duplicate": "on",
            },
        ),
    }
    for door, record in doors.items():
        for name, digits in CARDS.items():
            for ref in formats(digits):
                trial_log.trial()
                before = Payment.objects.count()
                result = record(ref)
                status = getattr(result, "status_code", None)
                trial_log.check(
                    Payment.objects.count() == before + 1,
                    f"{door} {name} {ref!r}: payment not recorded ({status}: {getattr(result, 'content', b'')[:200]!r})",
                )
                hits = stored_anywhere(digits)
                trial_log.check(
                    not hits, f"{door}: card {name} stored in {hits} (reference {ref!r})"
                )
                latest = Payment.objects.order_by("-id").first()
                if latest is not None and Payment.objects.count() == before + 1:
                    trial_log.check(
                        f"**** **** **** {digits[-4:]}" in latest.reference,
                        f"{door}: masked reference {latest.reference!r} does not keep the last 4 digits",
                    )
                    for number in re.findall(r"INV-\d{4}-\d{5}", ref):
                        trial_log.check(
                            number in latest.reference, f"{door}: invoice number {number} lost"
                        )
    trial_log.notes["columns_searched"] = len(text_columns())
    trial_log.assert_clean()


def _command(tmp_path, data: bytes):
    path = tmp_path / f"pay-{uuid.uuid4().hex[:8]}.csv"
    path.write_bytes(data)
    call_command("import_payments", str(path), stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db
def test_numbers_that_are_not_cards_are_kept(trial_log):
    """The mask is not a blunt instrument: invoice numbers, short bank references and long digit
    runs that fail the Luhn check are kept as sent."""
    AccountFactory(external_id="CARD-ACC", name="Card Payer")
    kept = [
        "INV-2026-00001 INV-2026-00002",
        "BACS 12345678",
        "4111111111111112",
        "order 1234567890123",
        "IBAN GB82WEST12345698765432",
    ]
    result = payment_import(file=payments_csv([(f"KEEP-{i}", ref) for i, ref in enumerate(kept)]))
    assert result.ok, result.errors
    for i, ref in enumerate(kept):
        trial_log.trial()
        stored = Payment.objects.get(external_id=f"KEEP-{i}").reference
        trial_log.check(stored == ref, f"{ref!r} stored as {stored!r}")
    trial_log.assert_clean()


@pytest.mark.django_db
def test_login_is_rate_limited_per_address_across_usernames(trial_log, client, settings):
    """Guessing passwords for many usernames from one address is stopped too (by the looser
    per-address limit, LOGIN_MAX_FAILURES_PER_ADDRESS; tests/test_security_login.py)."""
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    cache.clear()
    victim = UserFactory(username="rate-victim")
    url = reverse("login")
    for i in range(5):
        trial_log.trial()
        r = client.post(url, {"username": f"guess{i}", "password": "wrong"})
        trial_log.check(r.status_code == 200, f"attempt {i}: {r.status_code}")
    trial_log.trial()
    r = client.post(url, {"username": victim.username, "password": "pw-Billable-2026"})
    trial_log.check(
        r.status_code == 429, f"6th attempt from the same address answered {r.status_code}"
    )
    trial_log.check("_auth_user_id" not in client.session, "logged in despite the lockout")
    cache.clear()
    trial_log.assert_clean()


def test_cards_are_valid_test_numbers():
    for digits in CARDS.values():
        assert _luhn_ok(digits), digits
    assert sorted(len(d) for d in CARDS.values()) == [15, 16, 16, 16, 19]
