"""Operator console for invoicing: read-only. Invoices change only through the services (the
review screen, the commands, the API), which check the transitions, keep the totals right and
record who did what; an approved invoice is frozen (and a PostgreSQL trigger refuses edits).

No approval action here (issue 17 item 2): approval names the version of the draft the approver
was shown, and the changelist shows no version, so an action could only approve whatever the
draft had become by the time it was posted. Approve on the review page, the API or
`approve_invoices`."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from invoicing.models import CreditNote, Invoice, InvoiceAdjustment, InvoiceLine, InvoiceRun


class ReadOnlyAdmin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class InvoiceLineInline(ReadOnlyAdmin, admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = (
        "position",
        "agreement",
        "kind",
        "description",
        "role",
        "hours",
        "rate",
        "amount",
        "tax_rate",
        "adjustment_reason",
        "adjusted_by",
    )
    readonly_fields = fields


class InvoiceAdjustmentInline(ReadOnlyAdmin, admin.TabularInline):
    model = InvoiceAdjustment
    extra = 0
    fields = (
        "created_at",
        "user",
        "kind",
        "line_id",
        "before_description",
        "before_amount",
        "after_description",
        "after_amount",
        "reason",
        "version",
    )
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = (
        "__str__",
        "account",
        "status",
        "period",
        "invoice_date",
        "due_date",
        "currency",
        "total",
    )
    list_filter = ("status", "currency", "disputed")
    search_fields = ("number", "account__name", "po_number")
    list_select_related = ("account",)
    inlines = [InvoiceLineInline, InvoiceAdjustmentInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Invoice._meta.fields]

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple_history's "revert to this version" form checks only the view permission before
        # saving: refuse the POST here (the page itself stays viewable).
        if request.method == "POST":
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("History of an invoice is read-only.")
        return super().history_form_view(request, object_id, version_id, extra_context)


@admin.register(InvoiceRun)
class InvoiceRunAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = (
        "period",
        "status",
        "groups_done",
        "groups_total",
        "invoices_created",
        "created_at",
    )


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ("number", "invoice", "date", "amount", "currency")

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple_history's "revert to this version" form checks only the view permission before
        # saving: refuse the POST here (the page itself stays viewable).
        if request.method == "POST":
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("History of a credit note is read-only.")
        return super().history_form_view(request, object_id, version_id, extra_context)
