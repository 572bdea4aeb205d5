"""The referral dashboard: /dashboard/ and its htmx fragments and QR downloads.

Commands per full page: session, user, one $facet on the ledger (the statement
page), one $facet on referrals (statistics and the page of referred users),
the names of that page's users and of the friends the statement's entries
name (each entry says who): 5, whatever the number of referrals or entries;
1 more for a referred user (their own referral's state), 2 more while the
page shows an entry written before entries named their friend.
"""

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from io import BytesIO
from types import MappingProxyType
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.http import trigger_client_event

from credits.models import Kind
from credits.rules import credits_value
from credits.selectors import credit_statement
from referral_site.paging import page_number
from referrals.offer import programme_offer
from referrals.selectors import (
    DEFAULT_REFERRAL_SORT,
    REFERRAL_SORTS,
    referral_dashboard_referrals,
    referral_first_names,
    referral_friend_names,
    referral_invitation,
)

PARTS = ("stats", "referrals", "statement")


def referral_link(request, user) -> str:
    return request.build_absolute_uri(reverse("referrals:link", args=[user.referral_code]))


def pager(
    page,
    *,
    part: str,
    param: str,
    fragment_keep: dict,
    keep: dict,
    labels: tuple[str, str],
    label: str,
) -> dict:
    """Previous/next links for one paginated block of the dashboard.

    ``href`` (also pushed to the address bar) keeps the whole page's state;
    ``hx`` asks for the block alone.
    """

    def link(number: int) -> dict[str, str]:
        return {
            "href": "?" + urlencode({param: number, **keep}),
            "hx": "?" + urlencode({"part": part, param: number, **fragment_keep}),
        }

    return {
        "page": page,
        "target": part,
        "label": label,
        "previous": link(page.previous_page_number) if page.has_previous else None,
        "next": link(page.next_page_number) if page.has_next else None,
        "previous_label": labels[0],
        "next_label": labels[1],
    }


def share_text(name: str) -> str:
    offer = programme_offer()
    return (
        f"{name} invites you to {settings.SHOP_NAME}: sign up with this link and get "
        f"{offer.friend_value} in credits on your first purchase."
    )


@lru_cache(maxsize=2048)
def share_links(link: str, text: str) -> Mapping[str, str]:
    """The share buttons' addresses for a link and its message (a pure function: cached)."""
    return MappingProxyType(
        {
            "email": f"mailto:?subject={quote('Join me at the Referral Store')}"
            f"&body={quote(text + ' ' + link)}",
            "x": f"https://twitter.com/intent/tweet?text={quote(text)}&url={quote(link)}",
            "whatsapp": f"https://wa.me/?text={quote(text + ' ' + link)}",
            "linkedin": f"https://www.linkedin.com/sharing/share-offsite/?url={quote(link)}",
        }
    )


@login_required
@require_GET
def dashboard(request):
    user = request.user
    part = request.GET.get("part") if request.htmx else None
    part = part if part in PARTS else None
    sort = request.GET.get("sort")
    sort = sort if sort in REFERRAL_SORTS else DEFAULT_REFERRAL_SORT
    context = {
        "sort": sort,
        "credit_value": settings.CREDIT_VALUE,
        "balance_value": credits_value(user.credits),
        "held_value": credits_value(user.held_credits or 0),
        "earned_value": credits_value(user.total_credits_earned),
        "awards_seen": awards_seen(user),
        "reward_referrer": settings.REFERRAL_REWARD_REFERRER,
        "reward_referred": settings.REFERRAL_REWARD_REFERRED,
    }
    statement = None
    if part in (None, "statement"):
        statement = credit_statement(user_id=user.pk, page=page_number(request.GET.get("spage")))
    # The friends the statement's referral entries name (the entry says who):
    # read with the referrals table's names when the page has both.
    friend_ids = {
        row.referred_user_id
        for row in statement or ()
        if row.kind in _FRIEND_ENTRIES and row.referred_user_id not in (None, user.pk)
    }
    friends = None
    if part in (None, "stats", "referrals"):
        block = referral_dashboard_referrals(
            referrer_id=user.pk,
            page=page_number(request.GET.get("rpage")),
            sort=sort,
            friend_user_ids=friend_ids,
        )
        friends = block.friend_names
        context.update(_referrals_context(request, sort, block))
    if statement is not None:
        if friends is None:
            friends = referral_first_names(user_ids=friend_ids)
        context.update(_statement_context(request, sort, statement, user, friends))
    if part is None:
        context.update(_share_block(request))
        if user.referred_by_id is not None:
            context["invitation"] = referral_invitation(referred_user_id=user.pk)
    response = render(request, "referrals/dashboard.html" + (f"#{part}" if part else ""), context)
    if part == "stats" and _award_arrived(request, user):
        trigger_client_event(response, "credits-awarded")  # other blocks refresh themselves
    patch_vary_headers(response, ("HX-Request",))
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _referrals_context(request, sort: str, block) -> dict:
    return {
        "stats": block.stats,
        "referrals": block.page,
        "sort_links": _sort_links(sort, spage=request.GET.get("spage", 1)),
        "referrals_pager": pager(
            block.page,
            part="referrals",
            param="rpage",
            fragment_keep={"sort": sort},
            keep={"sort": sort, "spage": request.GET.get("spage", 1)},
            labels=("Previous", "Next"),
            label="Referred friends pages",
        ),
    }


def _sort_links(sort: str, *, spage) -> dict:
    """The table's column links: each column's other order, the statement page kept."""
    joined = "joined" if sort == "-joined" else "-joined"
    status = "-status" if sort == "status" else "status"
    return {
        column: {
            "href": "?" + urlencode({"sort": order, "spage": spage}),
            "hx": "?" + urlencode({"part": "referrals", "sort": order}),
        }
        for column, order in (("joined", joined), ("status", status))
    }


# What a referrer's statement says of each referral entry, naming the friend.
_FRIEND_ENTRIES = {
    Kind.REFERRAL_REWARD_REFERRER: "{friend}'s first purchase",
    Kind.REWARD_RELEASE: "{friend}'s first purchase: reward now spendable",
    Kind.CLAWBACK: "{friend}'s first purchase was refunded: reward reversed",
}


def _statement_context(request, sort: str, statement, user, friends: dict) -> dict:
    """The statement page, its referral entries naming the friend (``friends``: by user id).

    An entry written before entries named their friend names only its
    referral: two more commands (its referral, then the user), and only on a
    page that shows such an entry. The user's own entries keep their reason.
    """
    older = referral_friend_names(
        referrer_id=user.pk,
        referral_ids={
            row.referral_id
            for row in statement
            if row.kind in _FRIEND_ENTRIES and not row.referred_user_id
        },
    )

    def friend(row) -> str | None:
        if row.kind not in _FRIEND_ENTRIES:
            return None
        if row.referred_user_id:
            return friends.get(row.referred_user_id)  # never the user: not asked for
        return older.get(row.referral_id)

    rows = [
        replace(row, description=_FRIEND_ENTRIES[row.kind].format(friend=name))
        if (name := friend(row))
        else row
        for row in statement.object_list
    ]
    statement = replace(statement, object_list=rows)
    return {
        "statement": statement,
        "statement_pager": pager(
            statement,
            part="statement",
            param="spage",
            fragment_keep={},
            keep={"sort": sort, "rpage": request.GET.get("rpage", 1)},
            labels=("Newer", "Older"),
            label="Statement pages",
        ),
    }


def _share_block(request) -> dict:
    link = referral_link(request, request.user)
    text = share_text(request.user.name)
    return {
        "link": link,
        "share": share_links(link, text),
        "share_text": text,
        "qr_svg": qr_svg(link),
    }


@lru_cache(maxsize=2048)
def qr_svg(link: str) -> str:
    """The QR code of a referral link, encoded once per link and process (it never changes)."""
    return segno.make(link, error="m").svg_inline(scale=4, title="QR code of your referral link")


def _award_arrived(request, user) -> bool:
    try:
        seen = int(request.GET.get("seen", ""))
    except ValueError:
        return False
    return awards_seen(user) > seen


def awards_seen(user) -> int:
    """What the dashboard last showed of the user's rewards: earned plus held credits."""
    return user.total_credits_earned + (user.held_credits or 0)


@login_required
@require_GET
def referral_qr(request, fmt: str):
    link = referral_link(request, request.user)
    qr = segno.make(link, error="m")
    if fmt == "svg":
        response = HttpResponse(qr.svg_inline(scale=8), content_type="image/svg+xml")
    elif fmt == "png":
        buffer = BytesIO()
        qr.save(buffer, kind="png", scale=10)
        response = HttpResponse(buffer.getvalue(), content_type="image/png")
    else:
        raise Http404("Unknown format")
    response["Content-Disposition"] = f'attachment; filename="referral-link.{fmt}"'
    return response
