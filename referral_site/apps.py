from django.apps import AppConfig


class ReferralSiteConfig(AppConfig):
    name = "referral_site"
    verbose_name = "Site operations"

    def ready(self):
        from django.contrib import admin

        from referral_site import checks  # noqa: F401  (registers the deployment checks)
        from referral_site.admin_actions import export_selected_as_csv

        # Site-wide: offered on every admin changelist, now and for models added later.
        admin.site.add_action(export_selected_as_csv)
