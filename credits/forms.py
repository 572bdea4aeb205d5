from django import forms

from accounts.selectors import user_get_by_email, user_get_by_referral_code
from referral_site.intents import IntentTokenField


class CreditAdjustmentForm(forms.Form):
    """Shapes only; the rules (a reason, not zero, not below zero) are credits_adjust's."""

    token = IntentTokenField()
    user = forms.CharField(
        label="Customer", max_length=254, help_text="E-mail address or referral code."
    )
    amount = forms.IntegerField(label="Credits", help_text="Positive to add, negative to take.")
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the ledger with your name.",
    )

    def clean_user(self):
        value = self.cleaned_data["user"]
        user = user_get_by_email(email=value) or user_get_by_referral_code(code=value)
        if user is None:
            raise forms.ValidationError("No customer has that e-mail address or referral code.")
        return user
