from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core import account_views, import_pages, mail_views, two_factor, views
from core.api.docs import docs_view, schema_view
from core.login import RateLimitedLoginView, admin_login

handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"

# imports/: every import's history, its undo, and the background jobs of large imports.
import_patterns = [
    path("", import_pages.import_history, name="import_history"),
    path("<int:pk>/undo/", import_pages.import_undo, name="import_undo"),
    path("jobs/<int:pk>/", import_pages.import_job, name="import_job"),
    path("jobs/<int:pk>/status/", import_pages.import_job_status, name="import_job_status"),
]
# accounts/: a staff user's sign-in, API tokens, second factor and password.
account_patterns = [
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tokens/", account_views.tokens, name="account_tokens"),
    path("tokens/<int:pk>/revoke/", account_views.token_revoke_view, name="account_token_revoke"),
    path("2fa/", two_factor.enrol, name="two_factor"),
    path("2fa/verify/", two_factor.verify, name="two_factor_verify"),
    path("password/", account_views.PasswordChangeView.as_view(), name="account_password"),
]
# mail/templates/: the mail templates, edited per kind and level, then approved.
mail_template_patterns = [
    path("", mail_views.template_list, name="mail_templates"),
    path("<str:kind>/<int:level>/", mail_views.template_edit, name="mail_template"),
    path(
        "<str:kind>/<int:level>/approve/",
        mail_views.template_approve,
        name="mail_template_approve",
    ),
]
# api/: the REST endpoints under v1/, and their schema and documentation.
api_patterns = [
    path("v1/", include("billing_site.api_urls")),
    path("schema/", schema_view, name="schema"),
    path("docs/", docs_view, name="api-docs"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("imports/", include(import_patterns)),
    path("accounts/", include(account_patterns)),
    path("agreements/", include("agreements.urls")),
    path("time/", include("timesheets.urls")),
    path("invoices/", include("invoicing.urls")),
    path("receivables/", include("receivables.urls")),
    path("contacts/", include("portal.staff_urls")),
    # The customer portal: its own sign-in and session, no staff page and no API behind it.
    path("portal/", include("portal.urls")),
    path("", include("records.urls")),
    path("mail/templates/", include(mail_template_patterns)),
    path("api/", include(api_patterns)),
    path("admin/login/", admin_login, name="admin-login"),  # before admin.site.urls: limited
    path("admin/", admin.site.urls),
]
