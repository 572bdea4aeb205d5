from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from referral_site.health import database_status


@never_cache
@require_GET
def livez(request):
    """Liveness: the process answers. Touches no database (also the benchmark's ceiling)."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_GET
def healthz(request):
    ok, detail = database_status()
    body = {"status": "ok" if ok else "unavailable", "database": detail}
    return JsonResponse(body, status=200 if ok else 503)
