"""Error pages. A database outage is a 503 with a friendly page, not a 500."""

import logging

from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError

logger = logging.getLogger(__name__)

OUTAGE_ERRORS = (ConnectionFailure, ServerSelectionTimeoutError)
RETRY_AFTER_SECONDS = 30


def is_database_outage(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, OUTAGE_ERRORS):
            return True
        if isinstance(exc, DatabaseError) and isinstance(exc.__cause__, OUTAGE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def outage_response() -> HttpResponse:
    # Rendered without the request: the context processors would ask the
    # database for the signed-in user and wait for another timeout.
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    """Turns an unreachable database, raised by a view, into the 503 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_outage(exception):
            logger.error("database unavailable: %s", type(exception).__name__)
            return outage_response()
        return None


def server_error(request):
    """handler500: also catches outages raised outside views (middleware)."""
    import sys

    if is_database_outage(sys.exc_info()[1]):
        return outage_response()
    return HttpResponseServerError(render_to_string("500.html"))
