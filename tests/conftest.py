"""Shared fixtures: one named persona per role of SPEC section 7, plus an outsider with no role."""

from __future__ import annotations

import pytest
from django.test import Client

from core import roles
from tests.factories import UserFactory

PASSWORD = "pw-Billable-2026"


@pytest.fixture
def billing_admin(db):
    return UserFactory(username="bella.admin", roles=[roles.BILLING_ADMIN])


@pytest.fixture
def second_billing_admin(db):
    return UserFactory(username="bruno.admin", roles=[roles.BILLING_ADMIN])


@pytest.fixture
def services_manager(db):
    return UserFactory(username="sam.manager", roles=[roles.SERVICES_MANAGER])


@pytest.fixture
def finance(db):
    return UserFactory(username="fiona.finance", roles=[roles.FINANCE])


@pytest.fixture
def auditor(db):
    return UserFactory(username="audrey.auditor", roles=[roles.AUDITOR])


@pytest.fixture
def outsider(db):
    return UserFactory(username="oscar.outsider")


@pytest.fixture
def approved_mail(db):
    """Every mail template (each kind and configured reminder level) approved by a billing
    admin, as on the Mail templates page: for tests of sends no person previews (dunning runs,
    API and bulk sends, portal sign-in links). Request it after any fixture that changes
    BILLING_DUNNING_DAYS."""
    from core.mail import mail_templates_approve_builtin

    approver = UserFactory(username="tess.templates", roles=[roles.BILLING_ADMIN])
    mail_templates_approve_builtin(user=approver)
    return approver


def login_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_for():
    """client_for(user) -> a Django test client logged in as that user."""
    return login_client


from tests.browser import browser, page  # noqa: E402,F401  (fixture re-export)
from tests.worker import celery_worker  # noqa: E402,F401  (fixture re-export)
