from django.urls import path

from receivables import views

app_name = "receivables"
urlpatterns = [
    path("aging/", views.aging, name="aging"),
]
