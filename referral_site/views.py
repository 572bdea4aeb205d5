from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
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


@never_cache
@require_GET
def framework_floor(request):
    """The site's layout and nothing else: the benchmark's framework floor.

    What any page costs before its own work (middleware, session, user,
    context processors, base.html). Off unless BENCHMARK_FLOOR_VIEW is set.
    """
    if not settings.BENCHMARK_FLOOR_VIEW:
        raise Http404("not enabled")
    return render(request, "floor.html")
