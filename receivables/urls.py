from django.urls import include, path

from receivables import dispute_views, dunning_views, views

app_name = "receivables"

# receivables/aging/: the aging report, its export and one account's row.
aging_patterns = [
    path("", views.aging, name="aging"),
    path("export/", views.aging_export, name="aging_export"),
    path("account/<int:account_pk>/<str:currency>/", views.aging_detail, name="aging_detail"),
]
# receivables/payments/<pk>/: one payment, applied to invoices or assigned to an account.
payment_patterns = [
    path("", views.payment_detail, name="payment"),
    path("apply/", views.payment_apply, name="payment_apply"),
    path("assign/", views.payment_assign, name="payment_assign"),
]
# receivables/payments/: recording and uploading payments; those no account claims yet.
payments_patterns = [
    path("", views.payments, name="payments"),
    path("new/", views.payment_new, name="payment_new"),
    path("upload/", views.payment_upload, name="payment_upload"),
    path("unassigned/", views.unassigned, name="unassigned"),
    path("<int:pk>/", include(payment_patterns)),
]
# receivables/invoices/<pk>/: one invoice as receivables sees it.
invoice_patterns = [
    path("", views.invoice, name="invoice"),
    path("dispute/", dispute_views.invoice_dispute, name="invoice_dispute"),
    path("clear-dispute/", views.invoice_dispute_clear, name="invoice_dispute_clear"),
    path("remind/", dunning_views.invoice_remind, name="invoice_remind"),
]
# receivables/disputes/<pk>/: one dispute and its resolution.
dispute_patterns = [
    path("", dispute_views.dispute_detail, name="dispute"),
    path("comment/", dispute_views.dispute_comment, name="dispute_comment"),
    path("credit/", dispute_views.dispute_credit, name="dispute_credit"),
    path("approve/", dispute_views.dispute_approve, name="dispute_approve"),
    path("decline/", dispute_views.dispute_decline, name="dispute_decline"),
    path("reject/", dispute_views.dispute_reject, name="dispute_reject"),
    path("rebill/", dispute_views.dispute_rebill, name="dispute_rebill"),
]
# receivables/disputes/: the open disputes, one dispute, an attachment of one.
disputes_patterns = [
    path("", dispute_views.dispute_list, name="disputes"),
    path("<int:pk>/", include(dispute_patterns)),
    path("attachments/<int:pk>/", dispute_views.dispute_attachment, name="dispute_attachment"),
]
# receivables/dunning/: reminders due, previewed and sent.
dunning_patterns = [
    path("", dunning_views.dunning, name="dunning"),
    path("run/", dunning_views.dunning_run, name="dunning_run"),
    path("preview/", dunning_views.dunning_preview, name="dunning_preview"),
]

urlpatterns = [
    path("aging/", include(aging_patterns)),
    path("accounting/", views.accounting_export, name="accounting"),
    path("statement/<int:account_pk>/", views.statement, name="statement"),
    path("payments/", include(payments_patterns)),
    path("allocations/<int:pk>/reverse/", views.allocation_reverse, name="allocation_reverse"),
    path("unapplied/", views.unapplied, name="unapplied"),
    path("invoices/<int:pk>/", include(invoice_patterns)),
    path("disputes/", include(disputes_patterns)),
    path("dunning/", include(dunning_patterns)),
]
