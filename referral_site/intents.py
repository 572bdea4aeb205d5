"""Intent tokens: one random token per form shown, so a repeated submit is one action.

A form that changes money (checkout, a staff credit adjustment) carries a
fresh token in a hidden field; the service turns it into an idempotency key
under a unique index, so a double submit or a resubmit after Back finds what
the first submit did instead of doing it again.
"""

import re
import uuid

from django import forms

from referral_site import widgets

INTENT_TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


def new_intent_token() -> str:
    return uuid.uuid4().hex


def is_intent_token(value: str | None) -> bool:
    return bool(value) and bool(INTENT_TOKEN_RE.match(value))


class IntentTokenField(forms.CharField):
    """The hidden token field; anything but a token we issued reads as an expired form."""

    widget = widgets.HiddenInput

    def __init__(
        self, *, expired_message: str = "This form has expired; reload the page.", **kwargs
    ):
        self.expired_message = expired_message
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if not is_intent_token(value):
            raise forms.ValidationError(self.expired_message, code="expired")
