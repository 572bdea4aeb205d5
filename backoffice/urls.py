from django.urls import path

from backoffice import clerk_webhooks, views

app_name = "backoffice"

urlpatterns = [
    # Account settings: download one's data, delete one's account (GDPR).
    path("accounts/settings/", views.account_settings, name="settings"),
    path("accounts/settings/export/", views.account_export, name="settings_export"),
    path("accounts/settings/delete/", views.account_delete, name="settings_delete"),
    path("webhooks/clerk/", clerk_webhooks.clerk_webhook, name="clerk-webhook"),
]
