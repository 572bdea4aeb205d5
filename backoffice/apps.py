from functools import wraps

from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """What spans every app: GDPR, the staff activity page, demo data, reconciliation."""

    name = "backoffice"

    def ready(self):
        from django.conf import settings
        from django.contrib import admin

        from backoffice.shop_metrics import shop_metrics
        from referral_site.metrics import register_scrape_source

        # Credits, purchases and conversions at /metrics.
        register_scrape_source(shop_metrics)

        # The admin carries the shop's name (SHOP_NAME): header, page titles, index.
        admin.site.site_header = f"{settings.SHOP_NAME} administration"
        admin.site.site_title = f"{settings.SHOP_NAME} admin"
        admin.site.index_title = f"{settings.SHOP_NAME} overview"
        # The admin's ready() has imported every admin module by now, and the
        # URLs (referral_site.urls), which wrap site.index, are not built yet.
        admin.site.index = _index_with_overview(admin.site.index)


def _index_with_overview(index):
    """admin.site.index with the staff overview in its context (templates/admin/index.html)."""

    @wraps(index)
    def view(request, extra_context=None):
        from backoffice.overview import staff_overview

        context = {
            "overview": staff_overview(user=request.user),
            **(extra_context or {}),
        }
        return index(request, extra_context=context)

    return view
