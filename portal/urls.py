from django.urls import include, path

from portal import views

app_name = "portal"

# portal/signin/: a contact asks for a sign-in link, then follows it.
signin_patterns = [
    path("", views.signin, name="signin"),
    path("<str:token>/", views.signin_link, name="signin_link"),
]
# portal/invoices/<pk>/: one of the contact's invoices, its documents, a payment notice, a dispute.
invoice_patterns = [
    path("", views.invoice_detail, name="invoice"),
    path("pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("ubl/", views.invoice_ubl, name="invoice_ubl"),
    path("paid/", views.notice_new, name="notice_new"),
    path("dispute/", views.dispute_new, name="dispute_new"),
]
# portal/credit-notes/<pk>/: a credit note's documents.
credit_note_patterns = [
    path("pdf/", views.credit_note_pdf, name="credit_note_pdf"),
    path("ubl/", views.credit_note_ubl, name="credit_note_ubl"),
]
# portal/disputes/<pk>/: one dispute and the contact's messages on it.
dispute_patterns = [
    path("", views.dispute_detail, name="dispute"),
    path("message/", views.dispute_comment, name="dispute_comment"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", include(signin_patterns)),
    path("signout/", views.signout, name="signout"),
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<int:pk>/", include(invoice_patterns)),
    path("credit-notes/<int:pk>/", include(credit_note_patterns)),
    path("statement/", views.statement, name="statement"),
    path("disputes/<int:pk>/", include(dispute_patterns)),
    path("attachments/<int:pk>/", views.dispute_attachment, name="attachment"),
]
