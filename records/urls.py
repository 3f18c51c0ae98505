from django.urls import path

from records import views

app_name = "records"
urlpatterns = [
    path("customers/", views.customer_list, name="customers"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path(
        "customers/<int:pk>/einvoice-mail/",
        views.customer_einvoice_mail,
        name="customer_einvoice_mail",
    ),
    path("customers/<int:pk>/statement/", views.customer_statement, name="statement"),
    path("customers/<int:pk>/statement/mail/", views.statement_mail, name="statement_mail"),
    path("agreements/<int:pk>/", views.agreement_detail, name="agreement"),
    path("milestones/<int:pk>/complete/", views.milestone_complete, name="milestone_complete"),
    path("time/entries/", views.entry_browser, name="entries"),
    path("history/", views.history_view, name="history"),
]
