"""The permission matrix's table (tests/api/test_permission_matrix.py): URL name -> the requests
to probe it with, and who may make them (a capability of core.roles, or explicit outcomes per
persona). A new URL gets its entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core import roles
from tests.api.conftest import PERSONAS
from tests.world import World

# URL prefixes left out of the matrix: the Django admin (its own permission system) and files.
EXCLUDED_PREFIXES = ("admin/", "static/", "media/", "__debug__/", "__bench__/")

PERSONA_ROLE = {
    "billing_admin": roles.BILLING_ADMIN,
    "services_manager": roles.SERVICES_MANAGER,
    "finance": roles.FINANCE,
    "auditor": roles.AUDITOR,
    "outsider": None,
    "anonymous": None,
}

NONE: Callable[[World], dict[str, Any]] = lambda w: {}  # noqa: E731


@dataclass(frozen=True)
class Probe:
    method: str
    capability: str | None = None
    ok: int = 200
    kwargs: Callable[[World], dict[str, Any]] = NONE
    body: Callable[[World], Any] | None = None
    # Explicit status per persona (public and special endpoints); overrides capability.
    outcomes: dict[str, int] | None = None
    # Pages only: an expected redirect target for allowed personas, by persona.
    fmt: str = "json"
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def everyone(status: int, **overrides: int) -> dict[str, int]:
    return {p: overrides.get(p, status) for p in PERSONAS}


def pk(attr: str, name: str = "pk") -> Callable[[World], dict[str, Any]]:
    return lambda w: {name: getattr(w, attr).pk}


def page(method: str, capability: str, kwargs: Callable[[World], dict[str, Any]] = NONE) -> Probe:
    return Probe(method, capability, ok=200 if method == "GET" else 302, kwargs=kwargs, fmt="page")


AGREEMENT_ROW = {
    "Agreement ID": "AGR-NEW",
    "Account ID": "ACC-2",
    "Account Name": "New Co",
    "Project Code": "NEWCO",
    "Agreement Type": "Time and Materials",
    "Stage": "Signed",
    "Start Date": "2026-01-01",
    "Hourly Rate": "100",
}
ENTRY_ROW = {
    "Entry ID": "9001",
    "Date": "2026-01-20",
    "Employee ID": "E1",
    "Project Code": "ACME",
    "Hours": "1.5",
    "Billable": "yes",
}
PAYMENT_ROW = {
    "Payment ID": "PAY-NEW",
    "Date": "2026-02-01",
    "Account ID": "ACC-1",
    "Amount": "10.00",
}

# ---------------------------------------------------------------------------------------------
# The table. Keys are URL names as `reverse()` takes them.

MATRIX: dict[str, list[Probe]] = {
    # --- API: auth, schema, docs ---------------------------------------------------------------
    "api-token": [
        # Each persona logs in with its own password; the anonymous visitor with a wrong one.
        Probe("POST", outcomes=everyone(200, anonymous=400), label="own credentials"),
    ],
    "api-not-found": [
        Probe("GET", kwargs=lambda w: {}, outcomes=everyone(404), label="unknown address"),
    ],
    # Behind a login (issue 17 item 16): anonymous gets 401 (schema) or the login page (docs).
    "schema": [Probe("GET", outcomes=everyone(200, anonymous=401))],
    "api-docs": [Probe("GET", fmt="page", outcomes=everyone(200, anonymous=302))],
    # --- API: agreements ------------------------------------------------------------------------
    "api-account-list": [Probe("GET", "agreements.view")],
    "api-account-detail": [
        Probe("GET", "agreements.view", kwargs=lambda w: {"account_id": w.account.external_id})
    ],
    "api-agreement-list": [Probe("GET", "agreements.view")],
    "api-agreement-detail": [
        Probe("GET", "agreements.view", kwargs=lambda w: {"agreement_id": w.agreement.external_id})
    ],
    "api-agreement-import": [Probe("POST", "agreements.import", body=lambda w: [AGREEMENT_ROW])],
    # --- API: time, flags, reconciliation ---------------------------------------------------------
    "api-employee-list": [Probe("GET", "entries.view")],
    "api-employee-detail": [
        Probe("GET", "entries.view", kwargs=lambda w: {"employee_id": w.employee.external_id})
    ],
    "api-time-entry-list": [Probe("GET", "entries.view")],
    "api-time-entry-detail": [
        Probe("GET", "entries.view", kwargs=lambda w: {"entry_id": w.entry.external_id})
    ],
    "api-time-entry-import": [Probe("POST", "entries.import", body=lambda w: [ENTRY_ROW])],
    "api-flag-list": [Probe("GET", "flags.view")],
    "api-flag-detail": [Probe("GET", "flags.view", kwargs=pk("over_cap_flag"))],
    "api-flag-release": [
        Probe(
            "POST", "flags.act", kwargs=pk("over_cap_flag"), body=lambda w: {"reason": "Authorized"}
        )
    ],
    "api-flag-write-off": [
        Probe(
            "POST", "flags.act", kwargs=pk("over_cap_flag"), body=lambda w: {"reason": "Goodwill"}
        )
    ],
    "api-reconciliation-run-list": [
        Probe("GET", "flags.view"),
        Probe("POST", "reconcile.run", ok=202, body=lambda w: {"as_of": "2026-01-31"}),
    ],
    "api-reconciliation-run-detail": [Probe("GET", "flags.view", kwargs=pk("reconciliation_run"))],
    # --- API: invoicing ------------------------------------------------------------------------
    "api-invoice-run-list": [
        Probe("GET", "invoices.view"),
        Probe("POST", "invoices.manage", ok=202, body=lambda w: {"period": "2026-01"}),
    ],
    "api-invoice-run-detail": [Probe("GET", "invoices.view", kwargs=pk("invoice_run"))],
    "api-invoice-list": [Probe("GET", "invoices.view")],
    "api-invoice-detail": [Probe("GET", "invoices.view", kwargs=pk("draft"))],
    "api-invoice-pdf": [Probe("GET", "invoices.view", kwargs=pk("approved"))],
    "api-invoice-einvoice": [
        Probe("GET", "invoices.view", kwargs=lambda w: {"pk": w.approved.pk, "fmt": "ubl"})
    ],
    "api-credit-note-einvoice": [
        Probe("GET", "invoices.view", kwargs=lambda w: {"pk": w.credit_note.pk, "fmt": "cii"})
    ],
    "api-invoice-approve": [
        Probe("POST", "invoices.manage", kwargs=pk("draft"), body=lambda w: {"version": 1})
    ],
    "api-invoice-reject": [
        Probe("POST", "invoices.manage", kwargs=pk("draft"), body=lambda w: {"reason": "Wrong PO"})
    ],
    "api-invoice-adjust": [
        Probe(
            "POST",
            "invoices.manage",
            kwargs=pk("draft"),
            body=lambda w: {"line": w.draft_line.pk, "amount": "150.00", "reason": "Discount"},
        )
    ],
    "api-invoice-send": [
        Probe("POST", "invoices.manage", kwargs=pk("approved"), body=lambda w: {})
    ],
    "api-credit-note-list": [
        Probe("GET", "invoices.view"),
        Probe(
            "POST",
            "credit_notes.create",
            ok=201,
            body=lambda w: {"invoice": w.approved.pk, "amount": "50.00", "reason": "Goodwill"},
        ),
    ],
    "api-credit-note-detail": [Probe("GET", "invoices.view", kwargs=pk("credit_note"))],
    # --- API: receivables ----------------------------------------------------------------------
    "api-payment-list": [
        Probe("GET", "payments.view"),
        Probe(
            "POST",
            "payments.manage",
            ok=201,
            body=lambda w: {"account_id": "ACC-1", "date": "2026-02-01", "amount": "10.00"},
        ),
    ],
    "api-payment-detail": [
        Probe("GET", "payments.view", kwargs=lambda w: {"payment_id": w.payment.external_id})
    ],
    "api-payment-import": [Probe("POST", "payments.manage", body=lambda w: [PAYMENT_ROW])],
    # The world's payment is assigned already: finance passes the check and is refused (409).
    "api-payment-assign": [
        Probe(
            "POST",
            "payments.manage",
            ok=409,
            kwargs=lambda w: {"payment_id": w.payment.external_id},
            body=lambda w: {"account_id": "ACC-1"},
        )
    ],
    "api-allocation-list": [
        Probe("GET", "payments.view"),
        Probe(
            "POST",
            "payments.manage",
            ok=201,
            body=lambda w: {"payment_id": "PAY-1", "invoice": w.approved.pk, "amount": "50.00"},
        ),
    ],
    "api-allocation-detail": [Probe("GET", "payments.view", kwargs=pk("allocation"))],
    "api-allocation-reverse": [
        Probe(
            "POST", "payments.manage", kwargs=pk("allocation"), body=lambda w: {"reason": "Wrong"}
        )
    ],
    "api-invoice-dispute": [
        Probe("POST", "disputes.manage", kwargs=pk("approved"), body=lambda w: {"reason": "Hours"})
    ],
    "api-invoice-clear-dispute": [
        Probe("POST", "disputes.manage", kwargs=pk("disputed"), body=lambda w: {})
    ],
    "api-dispute-list": [
        Probe("GET", "disputes.view"),
        Probe(
            "POST",
            "disputes.manage",
            ok=201,
            body=lambda w: {
                "invoice": w.approved.pk,
                "category": "overbilling",
                "message": "Too many hours",
            },
        ),
    ],
    "api-dispute-detail": [Probe("GET", "disputes.view", kwargs=pk("dispute"))],
    "api-dispute-comment": [
        Probe(
            "POST",
            "disputes.manage",
            ok=201,
            kwargs=pk("dispute"),
            body=lambda w: {"message": "Checking"},
        )
    ],
    "api-dispute-credit": [
        Probe(
            "POST",
            "disputes.resolve",
            kwargs=pk("dispute"),
            body=lambda w: {"amount": "50.00", "reason": "Goodwill"},
        )
    ],
    # Allowed roles reach the service, which refuses: the world's dispute awaits no approval.
    "api-dispute-approve-credit": [
        Probe("POST", "disputes.resolve", ok=409, kwargs=pk("dispute"), body=lambda w: {})
    ],
    "api-dispute-decline-credit": [
        Probe(
            "POST",
            "disputes.resolve",
            ok=409,
            kwargs=pk("dispute"),
            body=lambda w: {"reason": "No"},
        )
    ],
    "api-dispute-reject": [
        Probe("POST", "disputes.resolve", kwargs=pk("dispute"), body=lambda w: {"reason": "Worked"})
    ],
    "api-dispute-rebill": [
        Probe(
            "POST", "disputes.resolve", kwargs=pk("dispute"), body=lambda w: {"reason": "Wrong PO"}
        )
    ],
    "api-contact-list": [
        Probe("GET", "contacts.view"),
        Probe(
            "POST",
            "contacts.manage",
            ok=201,
            body=lambda w: {"account_id": "ACC-1", "email": "new@acc-1.example"},
        ),
    ],
    "api-contact-detail": [Probe("GET", "contacts.view", kwargs=pk("contact"))],
    "api-contact-revoke": [
        Probe("POST", "contacts.manage", kwargs=pk("contact"), body=lambda w: {})
    ],
    "api-reminder-list": [Probe("GET", "dunning.view")],
    "api-reminder-detail": [Probe("GET", "dunning.view", kwargs=pk("reminder"))],
    "api-ar-aging": [
        Probe("GET", "aging.view", extra={"query": {"as_of": "2026-02-15"}}),
        Probe("GET", "aging.view", extra={"query": {"as_of": "2026-02-15", "format": "csv"}}),
    ],
    # --- Pages ---------------------------------------------------------------------------------
    "home": [
        # Each role is sent to its own landing page; a user without a role is told so (403).
        Probe("GET", fmt="page", outcomes=everyone(302, outsider=403)),
    ],
    "healthz": [Probe("GET", fmt="page", outcomes=everyone(200))],
    "login": [Probe("GET", fmt="page", outcomes=everyone(200))],
    "logout": [Probe("POST", fmt="page", outcomes=everyone(302))],
    # Each user's own API tokens and password (any logged-in user; only their own tokens).
    "account_tokens": [Probe("GET", fmt="page", outcomes=everyone(200, anonymous=302))],
    "account_token_revoke": [
        Probe("POST", fmt="page", kwargs=lambda w: {"pk": 999999}, outcomes=everyone(302))
    ],
    "two_factor": [
        Probe(
            "GET",
            fmt="page",
            outcomes=everyone(403, billing_admin=200, finance=200, anonymous=302),
        )
    ],
    # Nothing to verify without a device: sent on (home).
    "two_factor_verify": [Probe("GET", fmt="page", outcomes=everyone(302))],
    "account_password": [Probe("GET", fmt="page", outcomes=everyone(200, anonymous=302))],
    # A time-entry import job: every role may open import history, only the importing roles
    # this job's page (core.import_pages KIND_CAPABILITIES).
    **{
        name: [
            Probe(
                "GET",
                "imports.history",
                fmt="page",
                kwargs=pk("import_job"),
                outcomes=everyone(403, billing_admin=200, services_manager=200, anonymous=302),
                label="object capability: entries.import",
            )
        ]
        for name in ("import_job", "import_job_status")
    },
    # Pages that show something: GET, 200 when allowed. Pages that act: POST (an empty form:
    # the view redirects back with a message), 302 when allowed; refused POSTs change nothing.
    "agreements:list": [page("GET", "agreements.view")],
    "agreements:import": [page("GET", "agreements.import")],
    "timesheets:dashboard": [page("GET", "flags.view")],
    "timesheets:flag_detail": [page("GET", "flags.view", pk("over_cap_flag"))],
    "timesheets:flag_action": [page("POST", "flags.act", pk("over_cap_flag"))],
    "timesheets:flags_bulk": [page("POST", "flags.act")],
    "timesheets:flags_export": [page("GET", "flags.view")],
    "timesheets:reconcile": [page("POST", "reconcile.run")],
    "timesheets:unbilled_refresh": [page("POST", "reconcile.run")],
    "timesheets:run_status": [page("GET", "flags.view", pk("reconciliation_run"))],
    "timesheets:backlog": [page("GET", "flags.view")],
    "timesheets:import": [page("GET", "entries.import")],
    "import_history": [page("GET", "imports.history")],
    # An id with no import: the allowed answer is the redirect back with a message.
    "import_undo": [page("POST", "imports.history", lambda w: {"pk": 987654})],
    "invoicing:review": [page("GET", "invoices.view")],
    "invoicing:list": [page("GET", "invoices.view")],
    "invoicing:mail": [page("GET", "invoices.manage", pk("approved"))],
    "invoicing:credit_note_mail": [page("GET", "credit_notes.create", pk("credit_note"))],
    "mail_templates": [page("GET", "mail.templates")],
    "mail_template": [page("GET", "mail.templates", lambda w: {"kind": "reminder", "level": 30})],
    "mail_template_approve": [
        page("POST", "mail.templates", lambda w: {"kind": "reminder", "level": 30})
    ],
    "records:statement_mail": [page("GET", "statements.send", pk("account"))],
    "receivables:dunning_preview": [page("GET", "dunning.run")],
    "receivables:invoice_remind": [page("GET", "dunning.run", pk("approved"))],
    "invoicing:bulk_send": [page("GET", "invoices.manage"), page("POST", "invoices.manage")],
    "invoicing:approve_many": [page("POST", "invoices.manage")],
    "invoicing:run_start": [page("POST", "invoices.manage")],
    "invoicing:run_status": [page("GET", "invoices.view", pk("invoice_run"))],
    "invoicing:detail": [page("GET", "invoices.view", pk("draft"))],
    "invoicing:pdf": [page("GET", "invoices.view", pk("approved"))],
    "invoicing:approve": [page("POST", "invoices.manage", pk("draft"))],
    "invoicing:reject": [page("POST", "invoices.manage", pk("draft"))],
    "invoicing:add_line": [page("POST", "invoices.manage", pk("draft"))],
    "invoicing:edit_notes": [page("POST", "invoices.manage", pk("draft"))],
    "invoicing:approval_job": [page("GET", "invoices.view", pk("approval_job"))],
    "invoicing:send": [page("POST", "invoices.manage", pk("approved"))],
    "invoicing:credit_note": [page("POST", "credit_notes.create", pk("approved"))],
    "invoicing:adjust_line": [page("POST", "invoices.manage", pk("draft_line"))],
    "invoicing:credit_note_pdf": [page("GET", "invoices.view", pk("credit_note"))],
    "invoicing:einvoice": [
        page("GET", "invoices.view", lambda w: {"pk": w.approved.pk, "fmt": "ubl"})
    ],
    "invoicing:credit_note_einvoice": [
        page("GET", "invoices.view", lambda w: {"pk": w.credit_note.pk, "fmt": "cii"})
    ],
    "receivables:aging": [page("GET", "aging.view")],
    "receivables:accounting": [page("GET", "aging.view")],
    "records:customers": [page("GET", "customers.view")],
    "records:customer": [page("GET", "customers.view", pk("account"))],
    "records:customer_einvoice_mail": [page("POST", "invoices.manage", pk("account"))],
    "records:statement": [page("GET", "aging.view", pk("account"))],
    "records:agreement": [page("GET", "agreements.view", pk("agreement"))],
    "records:milestone_complete": [page("POST", "milestones.complete", pk("milestone"))],
    "records:entries": [page("GET", "entries.view")],
    "records:history": [page("GET", "history.view")],
    "receivables:aging_export": [page("GET", "aging.view")],
    "receivables:aging_detail": [
        page("GET", "aging.view", lambda w: {"account_pk": w.account.pk, "currency": "USD"})
    ],
    "receivables:statement": [page("GET", "aging.view", pk("account", "account_pk"))],
    "receivables:payments": [page("GET", "payments.view")],
    "receivables:payment_new": [page("GET", "payments.manage")],
    "receivables:payment_upload": [page("GET", "payments.manage")],
    "receivables:payment": [page("GET", "payments.view", pk("payment"))],
    "receivables:payment_apply": [page("POST", "payments.manage", pk("payment"))],
    "receivables:payment_assign": [page("POST", "payments.manage", pk("payment"))],
    "receivables:unassigned": [page("GET", "payments.view")],
    "receivables:allocation_reverse": [page("POST", "payments.manage", pk("allocation"))],
    "receivables:unapplied": [page("GET", "payments.view")],
    "receivables:invoice": [page("GET", "payments.view", pk("approved"))],
    "receivables:invoice_dispute": [page("POST", "disputes.manage", pk("approved"))],
    "receivables:invoice_dispute_clear": [page("POST", "disputes.manage", pk("disputed"))],
    "receivables:disputes": [page("GET", "disputes.view")],
    "receivables:dispute": [page("GET", "disputes.view", pk("dispute"))],
    "receivables:dispute_comment": [page("POST", "disputes.manage", pk("dispute"))],
    "receivables:dispute_credit": [page("POST", "disputes.resolve", pk("dispute"))],
    "receivables:dispute_approve": [page("POST", "disputes.resolve", pk("dispute"))],
    "receivables:dispute_decline": [page("POST", "disputes.resolve", pk("dispute"))],
    "receivables:dispute_reject": [page("POST", "disputes.resolve", pk("dispute"))],
    "receivables:dispute_rebill": [page("POST", "disputes.resolve", pk("dispute"))],
    "receivables:dispute_attachment": [page("GET", "disputes.view", pk("dispute_attachment"))],
    "receivables:dunning": [page("GET", "dunning.view")],
    "contacts:list": [page("GET", "contacts.view")],
    "contacts:invite": [page("POST", "contacts.manage")],
    "contacts:revoke": [page("POST", "contacts.manage", pk("contact"))],
    "contacts:options": [page("POST", "contacts.manage", pk("account", "account_pk"))],
    "contacts:notices": [page("GET", "payments.view")],
    "contacts:notice_match": [page("POST", "payments.manage", pk("notice"))],
    "contacts:notice_dismiss": [page("POST", "payments.manage", pk("notice"))],
    # The customer portal: no staff role and no staff login opens it. Without a portal session
    # every page sends to the portal's own sign-in (tests/portal covers contacts).
    "portal:signin": [Probe("GET", fmt="page", outcomes=everyone(200))],
    "portal:signin_link": [
        Probe("GET", fmt="page", kwargs=lambda w: {"token": "no-such-link"}, outcomes=everyone(410))
    ],
    "portal:signout": [Probe("POST", fmt="page", outcomes=everyone(302))],
    "portal:home": [Probe("GET", fmt="page", outcomes=everyone(302))],
    "portal:invoices": [Probe("GET", fmt="page", outcomes=everyone(302))],
    "portal:statement": [Probe("GET", fmt="page", outcomes=everyone(302))],
    **{
        name: [Probe(method, fmt="page", kwargs=pk(attr), outcomes=everyone(302))]
        for name, method, attr in [
            ("portal:invoice", "GET", "approved"),
            ("portal:invoice_pdf", "GET", "approved"),
            ("portal:invoice_ubl", "GET", "approved"),
            ("portal:credit_note_ubl", "GET", "credit_note"),
            ("portal:notice_new", "POST", "approved"),
            ("portal:dispute_new", "POST", "approved"),
            ("portal:credit_note_pdf", "GET", "credit_note"),
            ("portal:dispute", "GET", "dispute"),
            ("portal:dispute_comment", "POST", "dispute"),
            ("portal:attachment", "GET", "dispute_attachment"),
        ]
    },
    "receivables:dunning_run": [page("POST", "dunning.run")],
}
