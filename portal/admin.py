from django.contrib import admin

from portal.models import Contact, PaymentNotice, PortalEvent
from receivables.admin import ReadOnlyAdmin


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("email", "account", "invited_at", "revoked_at")
    search_fields = ("email", "account__name")


@admin.register(PaymentNotice)
class PaymentNoticeAdmin(ReadOnlyAdmin):
    list_display = ("account", "date", "currency", "amount", "status")


@admin.register(PortalEvent)
class PortalEventAdmin(admin.ModelAdmin):
    list_display = ("at", "contact", "action", "detail")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
