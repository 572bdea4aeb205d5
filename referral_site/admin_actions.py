"""The site-wide admin action "Export selected as CSV" (registered in apps.py)."""

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.utils import timezone

from referral_site.ops.csv_export import stream_queryset


@admin.action(description="Export selected as CSV", permissions=["view"])
def export_selected_as_csv(modeladmin, request, queryset):
    """Stream the selected rows: documented columns for the five collections
    (ops/csv_export.py), stored field names for other models, never secrets."""
    table = queryset.model._meta.db_table
    response = StreamingHttpResponse(
        stream_queryset(queryset), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{table}-{stamp}.csv"'
    return response
