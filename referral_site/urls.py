from django.contrib import admin
from django.urls import include, path

from accounts.views import AdminLoginView
from catalog.views import home
from referral_site import views
from referral_site.metrics import metrics_view

urlpatterns = [
    path("", home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("livez", views.livez, name="livez"),
    path("_floor/", views.framework_floor, name="framework-floor"),
    path("metrics", metrics_view, name="metrics"),
    # Before admin.site's own login: the same limits as the site's sign-in.
    path("admin/login/", AdminLoginView.as_view(), name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("referrals.urls")),
    path("products/", include("catalog.urls")),
    path("", include("purchases.urls")),
    path("", include("backoffice.urls")),
]

handler404 = "purchases.views.not_found"
handler500 = "referral_site.errors.server_error"
