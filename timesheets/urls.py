from django.urls import path

from timesheets import import_views, views

app_name = "timesheets"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("flags/<int:pk>/", views.flag_detail, name="flag_detail"),
    path("flags/<int:pk>/action/", views.flag_action, name="flag_action"),
    path("flags/bulk/", views.flags_bulk, name="flags_bulk"),
    path("flags/export/", views.flags_export, name="flags_export"),
    path("reconcile/", views.reconcile_start, name="reconcile"),
    path("kpis/unbilled/refresh/", views.unbilled_refresh, name="unbilled_refresh"),
    path("runs/<int:pk>/", views.run_status, name="run_status"),
    path("backlog/", views.backlog, name="backlog"),
    path("import/", import_views.time_entry_import_page, name="import"),
]
