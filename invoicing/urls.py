from django.urls import path

from invoicing import list_views, mail_views, views

app_name = "invoicing"
urlpatterns = [
    path("", views.review, name="review"),
    path("all/", list_views.invoice_list, name="list"),
    path("all/send/", list_views.invoice_bulk_send, name="bulk_send"),
    path("approve/", views.approve_many, name="approve_many"),
    path("runs/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_status, name="run_status"),
    path("approvals/<int:pk>/", views.approval_job_status, name="approval_job"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/pdf/", views.invoice_pdf_view, name="pdf"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/reject/", views.reject, name="reject"),
    path("<int:pk>/lines/", views.add_line, name="add_line"),
    path("<int:pk>/notes/", views.edit_notes, name="edit_notes"),
    path("<int:pk>/send/", views.send, name="send"),
    path("<int:pk>/mail/", mail_views.invoice_mail, name="mail"),
    path("credit-notes/<int:pk>/mail/", mail_views.credit_note_mail, name="credit_note_mail"),
    path("<int:pk>/credit-notes/", views.credit_note, name="credit_note"),
    path("lines/<int:pk>/adjust/", views.adjust_line, name="adjust_line"),
    path("credit-notes/<int:pk>/pdf/", views.credit_note_pdf_view, name="credit_note_pdf"),
    path("<int:pk>/einvoice/<str:fmt>/", views.invoice_einvoice_view, name="einvoice"),
    path(
        "credit-notes/<int:pk>/einvoice/<str:fmt>/",
        views.credit_note_einvoice_view,
        name="credit_note_einvoice",
    ),
]
