"""core.listing helpers."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse, set_script_prefix

from core.listing import PkUrl


@pytest.mark.parametrize(
    "name", ["invoicing:detail", "invoicing:pdf", "invoicing:mail", "invoicing:run_status"]
)
def test_pk_url_is_the_reversed_url_of_every_pk(name):
    url = PkUrl(name)
    for pk in (1, 9, 10, 918, 9182736450, 91827364509182):
        assert url(pk) == reverse(name, args=[pk])


def test_pk_url_keeps_the_script_prefix():
    set_script_prefix("/billing/")
    try:
        assert (
            PkUrl("invoicing:detail")(42)
            == "/billing/invoices/42/"
            == reverse("invoicing:detail", args=[42])
        )
    finally:
        set_script_prefix("/")


def test_pk_url_refuses_a_url_without_one_pk():
    with pytest.raises(NoReverseMatch):
        PkUrl("invoicing:review")
