from rest_framework.routers import SimpleRouter

from agreements import apis

router = SimpleRouter()
router.register("accounts", apis.AccountViewSet, basename="api-account")
router.register("agreements", apis.AgreementViewSet, basename="api-agreement")

urlpatterns = router.urls
