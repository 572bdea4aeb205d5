from django.conf import settings

from referrals.offer import programme_offer


def programme(request):
    """``offer`` (the referral programme's numbers) and ``shop_name``, for every page."""
    return {"offer": programme_offer(), "shop_name": settings.SHOP_NAME}
