from django.urls import path

from referrals import dashboard, views

app_name = "referrals"

urlpatterns = [
    path("r/<str:code>/", views.referral_link, name="link"),
    path("accounts/signup/", views.signup, name="signup"),
    path("welcome/", views.welcome, name="welcome"),
    path("offer.png", views.offer_image, name="offer_image"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/qr.<str:fmt>", dashboard.referral_qr, name="qr"),
]
