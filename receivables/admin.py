from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from receivables.models import Allocation, Dispute, DisputeMessage, Payment, Reminder


class ReadOnlyAdmin(SimpleHistoryAdmin):
    """Payments, allocations and reminders are recorded through services, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple_history's "revert to this version" form checks only the view permission before
        # saving: refuse the POST here (the page itself stays viewable).
        if request.method == "POST":
            raise PermissionDenied("Payments, allocations and reminders are never edited by hand.")
        return super().history_form_view(request, object_id, version_id, extra_context)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "date", "account", "currency", "amount", "method")
    search_fields = ("external_id", "reference", "account__name")


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ("payment", "invoice", "amount", "date", "reversed_on")


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "level", "sent_on", "sent_to")


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ("id", "invoice", "category", "status", "opened_at", "resolved_at")
    list_filter = ("status", "category")


@admin.register(DisputeMessage)
class DisputeMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "dispute", "author", "author_customer", "internal", "created_at")
