"""Clerk webhooks (``/webhooks/clerk/``): verified with svix, applied, recorded once.

- ``user.created`` / ``user.updated``: the linked account takes Clerk's name
  and verified primary e-mail (an account is never made here: the first
  sign-in makes it, with the visitor's referral code).
- ``user.deleted``: the account is erased exactly as ``gdpr_erase`` does
  (without calling Clerk back to delete a user that is already gone).
- ``session.ended`` / ``session.removed`` / ``session.revoked``: the Django
  session made from that Clerk session ends, and its tokens are refused.

The event id is the ``svix-id`` header, the same on every retry of one
message. An event is recorded (``clerkEvents``, unique ``eventId``) only
after its effects are stored, so a crash in between means a redelivery and
the (idempotent) effects run again. Unknown or oddly shaped events are
acknowledged with 200 so that Clerk stops retrying them.
"""

import json
import logging

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from svix.webhooks import Webhook, WebhookVerificationError

from accounts import clerk
from accounts.models import ClerkEvent
from accounts.selectors import user_get_by_clerk_user_id
from accounts.services import clerk_session_end, user_sync_from_clerk
from backoffice.gdpr import user_erase, user_is_erased

logger = logging.getLogger(__name__)

SESSION_END_EVENTS = ("session.ended", "session.removed", "session.revoked")
USER_SYNC_EVENTS = ("user.created", "user.updated")


@csrf_exempt  # Clerk cannot send our CSRF token; the svix signature authenticates it.
@require_POST
def clerk_webhook(request):
    secret = settings.CLERK_WEBHOOK_SECRET
    if not secret:
        return HttpResponse("webhooks are not configured", status=404)
    headers = {
        name: request.headers.get(name, "")
        for name in ("svix-id", "svix-timestamp", "svix-signature")
    }
    try:
        # svix 2.x checks the signature and the timestamp (5 minutes) and
        # returns nothing: the body is parsed only once it is known genuine.
        Webhook(secret).verify(request.body, headers)
    except (WebhookVerificationError, ValueError):  # ValueError: a malformed signature header
        logger.warning("clerk webhook rejected: bad signature")
        return HttpResponse("invalid signature", status=400)
    try:
        event = json.loads(request.body)
    except ValueError:
        logger.warning("clerk webhook: signed but not JSON; acknowledged")
        event = {}
    return JsonResponse(handle_clerk_event(event_id=headers["svix-id"], event=event))


def handle_clerk_event(*, event_id: str, event) -> dict:
    """Apply a verified event once; a repeat delivery changes nothing."""
    if not isinstance(event, dict):
        event = {}
    kind = event.get("type") if isinstance(event.get("type"), str) else ""
    if ClerkEvent.objects.filter(event_id=event_id).exists():
        return {"received": True, "duplicate": True}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    applied = _apply(kind, data)
    try:
        ClerkEvent.objects.create(event_id=event_id, type=kind[:100])
    except IntegrityError:
        return {"received": True, "duplicate": True}
    return {"received": True, "applied": applied}


def _apply(kind: str, data: dict) -> bool:
    """The event's effect; False when there was nothing here to change."""
    if kind in USER_SYNC_EVENTS:
        user = _user(data.get("id"))
        if user is None or user_is_erased(user):
            return False
        profile = clerk.profile_from_user_object(data)
        user_sync_from_clerk(user=user, name=profile.name, verified_email=profile.verified_email)
        return True
    if kind == "user.deleted":
        user = _user(data.get("id"))
        if user is None:
            return False
        erasure = user_erase(user=user, actor=None, delete_clerk_user=False)
        return not erasure.already_erased
    if kind in SESSION_END_EVENTS:
        session_id = data.get("id")
        if not isinstance(session_id, str) or not clerk.SESSION_ID_SHAPE.match(session_id):
            return False
        return clerk_session_end(session_id=session_id, user=_user(data.get("user_id")))
    return False


def _user(clerk_user_id):
    if not isinstance(clerk_user_id, str) or not clerk.USER_ID_SHAPE.match(clerk_user_id):
        return None
    return user_get_by_clerk_user_id(clerk_user_id=clerk_user_id)
