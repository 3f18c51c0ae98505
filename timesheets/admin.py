from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from timesheets.models import Employee, Flag, ReconciliationRun, TimeEntry


@admin.register(Employee)
class EmployeeAdmin(SimpleHistoryAdmin):
    list_display = ("external_id", "name")
    search_fields = ("external_id", "name")


@admin.register(TimeEntry)
class TimeEntryAdmin(SimpleHistoryAdmin):
    list_display = ("external_id", "date", "employee", "project_code", "role", "duration_ms", "billable", "approved", "locked")
    list_filter = ("billable", "approved", "locked")
    search_fields = ("external_id", "project_code", "employee__name")
    raw_id_fields = ("employee",)
    date_hierarchy = "date"


@admin.register(Flag)
class FlagAdmin(SimpleHistoryAdmin):
    list_display = ("code", "subject", "status", "project_code", "hours", "actioned_by", "actioned_at")
    list_filter = ("code", "status")
    search_fields = ("subject", "project_code")
    raw_id_fields = ("entry", "agreement", "employee")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin):
    list_display = ("as_of", "status", "opened", "resolved", "open_total", "created_at")
