from django.conf import settings

from accounts import clerk
from referrals.offer import programme_offer


def programme(request):
    """``offer`` (the referral programme's numbers), ``shop_name`` and ``clerk_enabled``
    (sign-in and sign-up links go to the Clerk pages), for every page."""
    return {
        "offer": programme_offer(),
        "shop_name": settings.SHOP_NAME,
        "clerk_enabled": clerk.is_configured(),
    }
