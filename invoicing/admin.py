"""Operator console for invoicing: read-only. Invoices change only through the services (the
review screen, the commands, the API), which check the transitions, keep the totals right and
record who did what; an approved invoice is frozen (and a PostgreSQL trigger refuses edits).
The one action calls the approval service."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from core.errors import BillingError
from core.roles import has_capability
from invoicing import services
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


@admin.action(description="Approve selected drafts (numbers them and renders the final PDF)")
def approve_selected(modeladmin, request, queryset):
    if not has_capability(request.user, "invoices.manage"):
        modeladmin.message_user(request, "Your role may not approve invoices.", messages.ERROR)
        return
    for invoice in queryset.order_by("id"):
        try:
            # The changelist row the operator selected is the version they saw.
            done = services.invoice_approve(
                invoice=invoice, user=request.user, version=invoice.version
            )
        except BillingError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
        else:
            modeladmin.message_user(request, f"Approved {done.number}.", messages.SUCCESS)


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
    actions = [approve_selected]

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
