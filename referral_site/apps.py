from django.apps import AppConfig


class ReferralSiteConfig(AppConfig):
    name = "referral_site"
    verbose_name = "Site operations"
