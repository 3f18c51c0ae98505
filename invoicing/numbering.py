"""Gapless document numbers: INV-YYYY-NNNNN and CN-YYYY-NNNNN (SPEC 3).

A number is taken inside the caller's transaction by locking the (series, year) row of
NumberSequence. Concurrent approvals queue on that lock, so numbers follow commit order; a
transaction that rolls back releases the lock with `last` unchanged, so the number is given back
and there is never a gap.
"""

from __future__ import annotations

from django.db import transaction

from invoicing.models import NumberSequence

INVOICE = "INV"
CREDIT_NOTE = "CN"


def format_number(series: str, year: int, seq: int) -> str:
    return f"{series}-{year:04d}-{seq:05d}"


def take_number(*, series: str, year: int) -> tuple[int, str]:
    """(sequence, formatted number). Must run inside the transaction that uses the number."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("take_number must run inside the transaction that stores the number")
    # Make sure the row exists without racing: INSERT ... ON CONFLICT DO NOTHING.
    NumberSequence.objects.bulk_create(
        [NumberSequence(series=series, year=year, last=0)], ignore_conflicts=True
    )
    row = NumberSequence.objects.select_for_update().get(series=series, year=year)
    row.last += 1
    row.save(update_fields=["last"])
    return row.last, format_number(series, year, row.last)


def take_numbers(*, series: str, year: int, count: int) -> list[tuple[int, str]]:
    """`count` consecutive numbers under one lock of the (series, year) row (batch approval):
    the same gapless rule as `take_number`, a rollback gives them all back."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("take_numbers must run inside the transaction that stores them")
    if count <= 0:
        return []
    NumberSequence.objects.bulk_create(
        [NumberSequence(series=series, year=year, last=0)], ignore_conflicts=True
    )
    row = NumberSequence.objects.select_for_update().get(series=series, year=year)
    first = row.last + 1
    row.last += count
    row.save(update_fields=["last"])
    return [(seq, format_number(series, year, seq)) for seq in range(first, row.last + 1)]
