"""Figures for the admin index."""

from django import template

from referrals.selectors import referral_reviews_waiting

register = template.Library()


@register.simple_tag
def waiting_reviews() -> int:
    """Referrals waiting for staff review (one indexed count)."""
    return referral_reviews_waiting()
