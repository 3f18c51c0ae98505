from django.urls import include, path

from records import views

app_name = "records"

# customers/<pk>/: one customer's record, its statement (shown or mailed) and whether its invoice
# mails carry the UBL file.
customer_patterns = [
    path("", views.customer_detail, name="customer"),
    path("einvoice-mail/", views.customer_einvoice_mail, name="customer_einvoice_mail"),
    path("statement/", views.customer_statement, name="statement"),
    path("statement/mail/", views.statement_mail, name="statement_mail"),
]

urlpatterns = [
    path("customers/", views.customer_list, name="customers"),
    path("customers/<int:pk>/", include(customer_patterns)),
    path("agreements/<int:pk>/", views.agreement_detail, name="agreement"),
    path("milestones/<int:pk>/complete/", views.milestone_complete, name="milestone_complete"),
    path("time/entries/", views.entry_browser, name="entries"),
    path("history/", views.history_view, name="history"),
]
