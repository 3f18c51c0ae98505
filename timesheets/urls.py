from django.urls import include, path

from timesheets import import_views, views

app_name = "timesheets"

# time/flags/<pk>/: one reconciliation flag and the action taken on it.
flag_patterns = [
    path("", views.flag_detail, name="flag_detail"),
    path("action/", views.flag_action, name="flag_action"),
]
# time/flags/: the flags in bulk, their export, one flag.
flags_patterns = [
    path("bulk/", views.flags_bulk, name="flags_bulk"),
    path("export/", views.flags_export, name="flags_export"),
    path("<int:pk>/", include(flag_patterns)),
]

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("flags/", include(flags_patterns)),
    path("reconcile/", views.reconcile_start, name="reconcile"),
    path("kpis/unbilled/refresh/", views.unbilled_refresh, name="unbilled_refresh"),
    path("runs/<int:pk>/", views.run_status, name="run_status"),
    path("backlog/", views.backlog, name="backlog"),
    path("import/", import_views.time_entry_import_page, name="import"),
]
