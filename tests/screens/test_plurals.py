"""Counts read as English (issue 15): "1 entry", "2 entries", never "1 entries"."""

from __future__ import annotations

from pathlib import Path

import pytest

from timesheets.importing import time_entry_import
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db

TOGGL = (Path(__file__).parent.parent / "imports" / "fixtures" / "toggl.csv").read_bytes()


def test_replace_period_says_how_many_entries_it_deleted(billing_admin):
    time_entry_import(file=TOGGL, user=billing_admin)
    lines = TOGGL.splitlines()
    # The re-export lost one of the two identical design rows.
    one_gone = b"\n".join([lines[0], lines[1], lines[3]]) + b"\n"
    result = time_entry_import(file=one_gone, user=billing_admin, replace_period=True)
    assert (
        "1 entry of this source and period that the file no longer has was deleted."
        in result.notices
    )
    assert TimeEntry.objects.count() == 2


def test_an_attachment_limit_of_one_reads_one_file(settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core.errors import BillingError
    from receivables.attachments import check_uploads

    settings.BILLING_DISPUTE_ATTACHMENTS_PER_MESSAGE = 1
    files = [SimpleUploadedFile(f"{n}.txt", b"note", "text/plain") for n in range(2)]
    with pytest.raises(BillingError) as refused:
        check_uploads(files)
    assert str(refused.value) == "At most 1 file per message."
    settings.BILLING_DISPUTE_ATTACHMENTS_PER_MESSAGE = 2
    assert len(check_uploads(files)) == 2


@pytest.mark.parametrize(("seconds", "text"), [(60, "1 minute."), (900, "15 minutes.")])
def test_the_lockout_message_counts_its_minutes(settings, seconds, text):
    from core.login import lockout_message

    settings.LOGIN_LOCKOUT_SECONDS = seconds
    assert lockout_message() == f"Too many failed log-ins. Try again in {text}"


@pytest.mark.parametrize(("minutes", "text"), [(1, "within 1 minute."), (45, "within 45 minutes.")])
def test_the_portal_sign_in_page_and_mail_say_how_long_the_link_lasts(
    settings, client, finance, django_capture_on_commit_callbacks, minutes, text, approved_mail
):
    from django.core import mail

    from portal.services import contact_invite
    from tests.factories import AccountFactory

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PORTAL_LINK_MINUTES = minutes
    page = client.post("/portal/signin/", {"email": "nobody@customer.example"})
    assert f"It works once, {text}</p>" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        contact_invite(account=AccountFactory(), email="jane@customer.example", user=finance)
    assert f"The link works once, {text} Later, ask for a new one" in mail.outbox[0].body
