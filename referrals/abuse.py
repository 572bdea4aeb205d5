"""Abuse signals seen at sign-up, kept on the referral until its conversion.

Each is computed from what the sign-up already has in hand (the referrer's
document, found by the code, and the new account's e-mail and origin), so
none costs a database command. The purchase's own signal (the card) and the
referrer's velocity are checked at conversion (purchases.services,
referrals.conversion). A referral with any signal waits for staff review
instead of awarding; customers are never told which rule it met.
"""

from datetime import datetime, timedelta

from disposable_email_domains import blocklist
from django.conf import settings

from accounts.models import User
from accounts.origin import Origin
from referrals.models import Signal

# Providers that deliver every dotted spelling of an address to one mailbox.
_DOTS_IGNORED = {"gmail.com", "googlemail.com"}


def email_canonical(address: str) -> str:
    """The mailbox an address reaches: without a +tag, and without dots where the provider ignores them."""  # noqa: E501
    local, _, domain = (address or "").strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _DOTS_IGNORED:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def email_disposable(address: str) -> bool:
    domain = (address or "").strip().lower().rpartition("@")[2]
    # A subdomain of a disposable domain is one too.
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocklist for i in range(len(parts) - 1))


def signup_signals(
    *, referrer: User, email: str | None, origin: Origin | None, now: datetime
) -> list[str]:
    """The signals of a sign-up through ``referrer``'s code, in a stable order."""
    found = []
    window = timedelta(days=settings.REFERRAL_SIGNAL_WINDOW_DAYS)
    recent = referrer.last_seen_at is not None and referrer.last_seen_at >= now - window
    if origin is not None and recent:
        if origin.ip_hash and origin.ip_hash == referrer.last_ip_hash:
            found.append(Signal.SAME_IP.value)
        if origin.browser_hash and origin.browser_hash == referrer.last_browser_hash:
            found.append(Signal.SAME_BROWSER.value)
    if email:
        if email_disposable(email):
            found.append(Signal.DISPOSABLE_EMAIL.value)
        if referrer.email and email_canonical(email) == email_canonical(referrer.email):
            found.append(Signal.EMAIL_ALIAS.value)
    return found
