"""Dismissing a "we paid" notice needs a reason (core.errors.require_reason, as every recorded
action): blank or spaces are refused and change nothing; the reason is kept trimmed."""

from __future__ import annotations

import pytest

from core.errors import BillingError
from portal import services
from portal.models import PaymentNotice

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_dismiss_without_a_reason_is_refused(alpha, finance, reason):
    with pytest.raises(BillingError, match=r"^A reason is required to dismiss a notice\.$"):
        services.payment_notice_dismiss(notice=alpha.notice, user=finance, reason=reason)
    assert PaymentNotice.objects.get(pk=alpha.notice.pk).status == PaymentNotice.Status.EXPECTED


def test_dismiss_keeps_the_reason_trimmed(alpha, finance):
    services.payment_notice_dismiss(notice=alpha.notice, user=finance, reason="  not ours \n")
    notice = PaymentNotice.objects.get(pk=alpha.notice.pk)
    assert (notice.status, notice.note, notice.handled_by) == ("dismissed", "not ours", finance)
