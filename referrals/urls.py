from django.urls import path

from referrals import clerk_views, dashboard, views

app_name = "referrals"

urlpatterns = [
    path("r/<str:code>/", views.referral_link, name="link"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/clerk/sign-in/", clerk_views.clerk_sign_in_page, name="clerk_sign_in"),
    path("accounts/clerk/sign-up/", clerk_views.clerk_sign_up_page, name="clerk_sign_up"),
    path("accounts/clerk/complete/", clerk_views.clerk_complete, name="clerk_complete"),
    path("accounts/clerk/link/", clerk_views.clerk_link, name="clerk_link"),
    path("welcome/", views.welcome, name="welcome"),
    path("offer.png", views.offer_image, name="offer_image"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/qr.<str:fmt>", dashboard.referral_qr, name="qr"),
]
