from django.urls import include, path

from invoicing import list_views, mail_views, views

app_name = "invoicing"

# invoices/all/: every invoice, not only the drafts under review.
list_patterns = [
    path("", list_views.invoice_list, name="list"),
    path("send/", list_views.invoice_bulk_send, name="bulk_send"),
]
# invoices/<pk>/: one invoice, its documents and what can be done to it.
invoice_patterns = [
    path("", views.detail, name="detail"),
    path("pdf/", views.invoice_pdf_view, name="pdf"),
    path("einvoice/<str:fmt>/", views.invoice_einvoice_view, name="einvoice"),
    path("mail/", mail_views.invoice_mail, name="mail"),
    path("approve/", views.approve, name="approve"),
    path("reject/", views.reject, name="reject"),
    path("lines/", views.add_line, name="add_line"),
    path("notes/", views.edit_notes, name="edit_notes"),
    path("send/", views.send, name="send"),
    path("credit-notes/", views.credit_note, name="credit_note"),
]
# invoices/credit-notes/<pk>/: one credit note's documents.
credit_note_patterns = [
    path("pdf/", views.credit_note_pdf_view, name="credit_note_pdf"),
    path("einvoice/<str:fmt>/", views.credit_note_einvoice_view, name="credit_note_einvoice"),
    path("mail/", mail_views.credit_note_mail, name="credit_note_mail"),
]
# invoices/runs/: starting an invoice run and following it.
run_patterns = [
    path("", views.run_start, name="run_start"),
    path("<int:pk>/", views.run_status, name="run_status"),
]

urlpatterns = [
    path("", views.review, name="review"),
    path("approve/", views.approve_many, name="approve_many"),
    path("approvals/<int:pk>/", views.approval_job_status, name="approval_job"),
    path("all/", include(list_patterns)),
    path("runs/", include(run_patterns)),
    path("<int:pk>/", include(invoice_patterns)),
    path("lines/<int:pk>/adjust/", views.adjust_line, name="adjust_line"),
    path("credit-notes/<int:pk>/", include(credit_note_patterns)),
]
