from django.urls import path
from rest_framework.routers import SimpleRouter

from receivables import apis, dispute_apis

router = SimpleRouter()
router.register("payments", apis.PaymentViewSet, basename="api-payment")
router.register("allocations", apis.AllocationViewSet, basename="api-allocation")
router.register("reminders", apis.ReminderViewSet, basename="api-reminder")
router.register("disputes", dispute_apis.DisputeViewSet, basename="api-dispute")

urlpatterns = [
    *router.urls,
    path(
        "invoices/<str:pk>/dispute/", apis.InvoiceDisputeView.as_view(), name="api-invoice-dispute"
    ),
    path(
        "invoices/<str:pk>/clear-dispute/",
        apis.InvoiceDisputeClearView.as_view(),
        name="api-invoice-clear-dispute",
    ),
    path("reports/ar-aging/", apis.AgingReportView.as_view(), name="api-ar-aging"),
]
