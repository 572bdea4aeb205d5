"""Checkout form: credits to apply and, when cash is due, the card."""

import re

from django import forms

from purchases.gateways import Card
from referral_site.intents import IntentTokenField


class CheckoutForm(forms.Form):
    token = IntentTokenField(expired_message="This checkout form has expired; please try again.")
    credits = forms.TypedChoiceField(coerce=int, label="Credits to use", choices=())
    card_number = forms.CharField(
        label="Card number",
        required=False,
        max_length=23,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "cc-number",
                "inputmode": "numeric",
                "placeholder": "4242 4242 4242 4242",
            }
        ),
    )
    card_expiry = forms.CharField(
        label="Expiry (MM/YY)",
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "12/34"}),
    )
    card_cvc = forms.CharField(
        label="CVC",
        required=False,
        max_length=4,
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )
    payment_method_id = forms.CharField(
        label="Payment method",
        required=False,
        max_length=255,
        help_text="A Stripe PaymentMethod id (pm_...) from Stripe.js.",
    )

    def __init__(self, *args, max_credits: int, accepts_card_numbers: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["credits"].choices = [
            (n, f"{n} credit{'s' if n != 1 else ''}") for n in range(max_credits + 1)
        ]
        self.fields["credits"].error_messages["invalid_choice"] = (
            f"Choose a whole number of credits from 0 to {max_credits}."
        )
        self.accepts_card_numbers = accepts_card_numbers
        if accepts_card_numbers:
            del self.fields["payment_method_id"]
        else:
            for name in ("card_number", "card_expiry", "card_cvc"):
                del self.fields[name]

    def clean_card_expiry(self):
        value = self.cleaned_data.get("card_expiry", "").strip()
        if not value:
            return None
        match = re.fullmatch(r"(\d{1,2})\s*/\s*(\d{2}|\d{4})", value)
        if not match or not 1 <= int(match.group(1)) <= 12:
            raise forms.ValidationError("Enter the expiry as MM/YY.")
        year = int(match.group(2))
        return int(match.group(1)), year + 2000 if year < 100 else year

    def clean_card_cvc(self):
        value = self.cleaned_data.get("card_cvc", "").strip()
        if value and not re.fullmatch(r"\d{3,4}", value):
            raise forms.ValidationError("The CVC is 3 or 4 digits.")
        return value

    def payment(self) -> dict:
        """The purchase_checkout arguments this form collected: credits and payment."""
        data = self.cleaned_data
        return {
            "credits_used": data["credits"],
            "card": Card(
                number=data.get("card_number", ""),
                expiry=data.get("card_expiry"),
                cvc=data.get("card_cvc", ""),
            ),
            "payment_method_id": data.get("payment_method_id", ""),
        }
