from django.urls import include, path

from portal import staff_views

app_name = "contacts"

# contacts/notices/: the payment notices contacts sent, matched to a payment or dismissed.
notice_patterns = [
    path("", staff_views.notices, name="notices"),
    path("<int:pk>/match/", staff_views.notice_match, name="notice_match"),
    path("<int:pk>/dismiss/", staff_views.notice_dismiss, name="notice_dismiss"),
]

urlpatterns = [
    path("", staff_views.contacts, name="list"),
    path("invite/", staff_views.contact_invite, name="invite"),
    path("<int:pk>/revoke/", staff_views.contact_revoke, name="revoke"),
    path("accounts/<int:account_pk>/options/", staff_views.account_options, name="options"),
    path("notices/", include(notice_patterns)),
]
