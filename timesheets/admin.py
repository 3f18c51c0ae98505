from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from timesheets.models import Employee, Flag, ReconciliationRun, TimeEntry


@admin.register(Employee)
class EmployeeAdmin(SimpleHistoryAdmin):
    list_display = ("external_id", "name")
    search_fields = ("external_id", "name")


@admin.register(TimeEntry)
class TimeEntryAdmin(SimpleHistoryAdmin):
    list_display = (
        "external_id",
        "date",
        "employee",
        "project_code",
        "role",
        "duration_ms",
        "billable",
        "approved",
        "locked",
    )
    list_filter = ("billable", "approved", "locked")
    search_fields = ("external_id", "project_code", "employee__name")
    raw_id_fields = ("employee",)
    date_hierarchy = "date"

    # An entry on an approved invoice is frozen with it (an import raises CHANGED_AFTER_INVOICING
    # instead): read-only here, including simple_history's revert form, which checks only the
    # view permission before saving.
    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.locked:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.locked:
            return False
        return super().has_delete_permission(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        entry = self.get_object(request, object_id)
        if request.method == "POST" and entry is not None and entry.locked:
            raise PermissionDenied("This entry is on an approved invoice: it cannot be changed.")
        return super().history_form_view(request, object_id, version_id, extra_context)


@admin.register(Flag)
class FlagAdmin(SimpleHistoryAdmin):
    list_display = (
        "code",
        "subject",
        "status",
        "project_code",
        "hours",
        "actioned_by",
        "actioned_at",
    )
    list_filter = ("code", "status")
    search_fields = ("subject", "project_code")
    raw_id_fields = ("entry", "agreement", "employee")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin):
    list_display = ("as_of", "status", "opened", "resolved", "open_total", "created_at")
