from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from invoicing.models import CreditNote, Invoice, InvoiceLine, InvoiceRun


class ReadOnlyWhenFinal:
    """Approved (or later) invoices and their lines are frozen: read-only in the operator console."""

    def _final(self, obj) -> bool:
        invoice = getattr(obj, "invoice", obj)
        return invoice is not None and getattr(invoice, "status", "draft") not in ("draft",)

    def has_change_permission(self, request, obj=None):
        if obj is not None and self._final(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self._final(obj):
            return False
        return super().has_delete_permission(request, obj)


class InvoiceLineInline(ReadOnlyWhenFinal, admin.TabularInline):
    model = InvoiceLine
    extra = 0
    raw_id_fields = ("agreement",)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyWhenFinal, SimpleHistoryAdmin):
    list_display = ("__str__", "account", "status", "period", "invoice_date", "due_date", "currency", "total")
    list_filter = ("status", "currency", "disputed")
    search_fields = ("number", "account__name", "po_number")
    raw_id_fields = ("account", "run")
    inlines = [InvoiceLineInline]


@admin.register(InvoiceRun)
class InvoiceRunAdmin(admin.ModelAdmin):
    list_display = ("period", "status", "groups_done", "groups_total", "invoices_created", "created_at")


@admin.register(CreditNote)
class CreditNoteAdmin(SimpleHistoryAdmin):
    list_display = ("number", "invoice", "date", "amount", "currency")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
