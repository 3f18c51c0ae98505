from django.urls import path

from receivables import dispute_views, dunning_views, views

app_name = "receivables"
urlpatterns = [
    path("aging/", views.aging, name="aging"),
    path("aging/export/", views.aging_export, name="aging_export"),
    path("accounting/", views.accounting_export, name="accounting"),
    path("aging/account/<int:account_pk>/<str:currency>/", views.aging_detail, name="aging_detail"),
    path("statement/<int:account_pk>/", views.statement, name="statement"),
    path("payments/", views.payments, name="payments"),
    path("payments/new/", views.payment_new, name="payment_new"),
    path("payments/upload/", views.payment_upload, name="payment_upload"),
    path("payments/<int:pk>/", views.payment_detail, name="payment"),
    path("payments/<int:pk>/apply/", views.payment_apply, name="payment_apply"),
    path("payments/<int:pk>/assign/", views.payment_assign, name="payment_assign"),
    path("payments/unassigned/", views.unassigned, name="unassigned"),
    path("allocations/<int:pk>/reverse/", views.allocation_reverse, name="allocation_reverse"),
    path("unapplied/", views.unapplied, name="unapplied"),
    path("invoices/<int:pk>/", views.invoice, name="invoice"),
    path("invoices/<int:pk>/dispute/", dispute_views.invoice_dispute, name="invoice_dispute"),
    path(
        "invoices/<int:pk>/clear-dispute/",
        views.invoice_dispute_clear,
        name="invoice_dispute_clear",
    ),
    path("disputes/", dispute_views.dispute_list, name="disputes"),
    path("disputes/<int:pk>/", dispute_views.dispute_detail, name="dispute"),
    path("disputes/<int:pk>/comment/", dispute_views.dispute_comment, name="dispute_comment"),
    path("disputes/<int:pk>/credit/", dispute_views.dispute_credit, name="dispute_credit"),
    path("disputes/<int:pk>/approve/", dispute_views.dispute_approve, name="dispute_approve"),
    path("disputes/<int:pk>/decline/", dispute_views.dispute_decline, name="dispute_decline"),
    path("disputes/<int:pk>/reject/", dispute_views.dispute_reject, name="dispute_reject"),
    path("disputes/<int:pk>/rebill/", dispute_views.dispute_rebill, name="dispute_rebill"),
    path(
        "disputes/attachments/<int:pk>/",
        dispute_views.dispute_attachment,
        name="dispute_attachment",
    ),
    path("dunning/", dunning_views.dunning, name="dunning"),
    path("dunning/run/", dunning_views.dunning_run, name="dunning_run"),
    path("dunning/preview/", dunning_views.dunning_preview, name="dunning_preview"),
    path("invoices/<int:pk>/remind/", dunning_views.invoice_remind, name="invoice_remind"),
]
