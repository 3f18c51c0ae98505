from django.urls import path

from receivables import views

app_name = "receivables"
urlpatterns = [
    path("aging/", views.aging, name="aging"),
    path("aging/export/", views.aging_export, name="aging_export"),
    path("aging/account/<int:account_pk>/<str:currency>/", views.aging_detail, name="aging_detail"),
    path("statement/<int:account_pk>/", views.statement, name="statement"),
    path("payments/", views.payments, name="payments"),
    path("payments/new/", views.payment_new, name="payment_new"),
    path("payments/upload/", views.payment_upload, name="payment_upload"),
    path("payments/<int:pk>/", views.payment_detail, name="payment"),
    path("payments/<int:pk>/apply/", views.payment_apply, name="payment_apply"),
    path("allocations/<int:pk>/reverse/", views.allocation_reverse, name="allocation_reverse"),
    path("unapplied/", views.unapplied, name="unapplied"),
    path("invoices/<int:pk>/", views.invoice, name="invoice"),
    path("invoices/<int:pk>/dispute/", views.invoice_dispute, name="invoice_dispute"),
    path(
        "invoices/<int:pk>/clear-dispute/",
        views.invoice_dispute_clear,
        name="invoice_dispute_clear",
    ),
    path("disputes/", views.disputes, name="disputes"),
    path("dunning/", views.dunning, name="dunning"),
    path("dunning/run/", views.dunning_run, name="dunning_run"),
]
