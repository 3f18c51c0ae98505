from django.urls import path

from timesheets import views

app_name = "timesheets"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
]
