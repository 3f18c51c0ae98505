from rest_framework.routers import SimpleRouter

from invoicing import apis

router = SimpleRouter()
router.register("invoice-runs", apis.InvoiceRunViewSet, basename="api-invoice-run")
router.register("invoices", apis.InvoiceViewSet, basename="api-invoice")
router.register("credit-notes", apis.CreditNoteViewSet, basename="api-credit-note")

urlpatterns = router.urls
