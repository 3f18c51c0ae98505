from rest_framework.routers import SimpleRouter

from portal import apis

router = SimpleRouter()
router.register("contacts", apis.ContactViewSet, basename="api-contact")

urlpatterns = router.urls
