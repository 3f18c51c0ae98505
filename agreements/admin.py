from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from agreements.models import Account, Agreement, Milestone, RoleRate


class RoleRateInline(admin.TabularInline):
    model = RoleRate
    extra = 0


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0


@admin.register(Account)
class AccountAdmin(SimpleHistoryAdmin):
    list_display = ("external_id", "name", "billing_email")
    search_fields = ("external_id", "name")


@admin.register(Agreement)
class AgreementAdmin(SimpleHistoryAdmin):
    list_display = (
        "external_id",
        "account",
        "project_code",
        "agreement_type",
        "stage",
        "start_date",
        "end_date",
        "currency",
    )
    list_filter = ("agreement_type", "stage", "currency")
    search_fields = ("external_id", "project_code", "account__name")
    raw_id_fields = ("parent", "account")
    inlines = [RoleRateInline, MilestoneInline]
