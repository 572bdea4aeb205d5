"""Pages a shared cache (a CDN, a caching proxy) may keep for visitors who are nobody yet.

A visitor with no cookie at all is anonymous and has no state the page could
show: the catalog pages are then the same bytes for everyone (no CSRF token
rendered, no cookie set) and are marked ``public`` for a short time. Anyone
with a cookie (signed in, a message waiting, a remembered referral code) gets
``private``, and ``Vary: Cookie`` keeps a shared cache from mixing the two.
"""

from functools import wraps

from django.utils.cache import patch_cache_control, patch_vary_headers

VISITOR_MAX_AGE = 60


def shared_for_visitors(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        visitor = not request.COOKIES and not request.user.is_authenticated
        if visitor and response.status_code == 200 and not response.cookies:
            patch_cache_control(response, public=True, max_age=VISITOR_MAX_AGE)
        else:
            patch_cache_control(response, private=True)
        patch_vary_headers(response, ("Cookie",))
        return response

    return wrapped
