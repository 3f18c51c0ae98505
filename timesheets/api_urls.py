from rest_framework.routers import SimpleRouter

from timesheets import apis

router = SimpleRouter()
router.register("employees", apis.EmployeeViewSet, basename="api-employee")
router.register("time-entries", apis.TimeEntryViewSet, basename="api-time-entry")
router.register("flags", apis.FlagViewSet, basename="api-flag")
router.register(
    "reconciliation-runs", apis.ReconciliationRunViewSet, basename="api-reconciliation-run"
)

urlpatterns = router.urls
