"""The dashboard's rows and pagers (referrals.html) as template tags."""

from django import template

from referrals import html

register = template.Library()


@register.simple_tag
def referral_rows(rows):
    return html.referral_rows(rows)


@register.simple_tag
def statement_rows(rows):
    return html.statement_rows(rows)


@register.simple_tag
def dashboard_pager(pager):
    return html.pager(pager)
