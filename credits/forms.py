from django import forms

from accounts.selectors import user_get_by_email, user_get_by_referral_code
from purchases.forms import TOKEN_RE


class CreditAdjustmentForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)
    user = forms.CharField(label="Customer", max_length=254,
                           help_text="E-mail address or referral code.")
    amount = forms.IntegerField(label="Credits", help_text="Positive to add, negative to take.")
    reason = forms.CharField(label="Reason", max_length=500, widget=forms.Textarea(
        attrs={"rows": 3}), help_text="Recorded in the ledger with your name.")

    def clean_token(self):
        token = self.cleaned_data["token"]
        if not TOKEN_RE.match(token):
            raise forms.ValidationError("This form has expired; reload the page.")
        return token

    def clean_user(self):
        value = self.cleaned_data["user"]
        user = user_get_by_email(email=value) or user_get_by_referral_code(code=value)
        if user is None:
            raise forms.ValidationError("No customer has that e-mail address or referral code.")
        return user

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("The adjustment cannot be zero.")
        return amount

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason
