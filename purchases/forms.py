"""Checkout form: the credits to apply and, when cash is due, Stripe.js's payment method."""

from django import forms

from credits.rules import credits_phrase, credits_value
from referral_site import widgets
from referral_site.intents import IntentTokenField


class CheckoutForm(forms.Form):
    token = IntentTokenField(expired_message="This checkout form has expired; please try again.")
    credits = forms.TypedChoiceField(coerce=int, label="Credits to use", choices=())
    # Filled in the browser by Stripe.js from the card element: never a card number.
    payment_method_id = forms.CharField(
        required=False, max_length=255, widget=widgets.HiddenInput(attrs={"id": "payment-method"})
    )

    def __init__(self, *args, credit_choices: tuple[int, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.credit_choices = credit_choices
        # Labelled only when a submitted count is checked: the page writes
        # its own options (purchases.html.credit_options).
        self.fields["credits"].choices = self._labelled_choices
        self.fields["credits"].error_messages["invalid_choice"] = (
            f"Choose a whole number of credits from 0 to {max(credit_choices)}."
        )

    def _labelled_choices(self) -> list[tuple[int, str]]:
        return [(n, credits_label(n)) for n in self.credit_choices]

    def payment(self) -> dict:
        """The purchase_checkout arguments this form collected: credits and payment."""
        return {
            "credits_used": self.cleaned_data["credits"],
            "payment_method_id": self.cleaned_data.get("payment_method_id", ""),
        }


def credits_label(n: int) -> str:
    """A credits choice: "3 credits ($30.00)"."""
    return f"{credits_phrase(n)} (${credits_value(n)})"
