from django.urls import path

from referrals import views

app_name = "referrals"

urlpatterns = [
    path("r/<str:code>/", views.referral_link, name="link"),
]
