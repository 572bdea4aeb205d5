"""Forms: input shape only; the rules are in accounts.services."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import SetPasswordMixin

from accounts.models import User
from accounts.services import user_password_set
from referral_site.validators import no_control_characters


class SignupForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=User._meta.get_field("name").max_length,
        validators=[no_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        # The validators' own list reads like a contract; this is what they ask.
        help_text="At least 8 characters; not a common password, not only digits.",
    )
    referral_code = forms.CharField(
        label="Referral code (optional)",
        required=False,
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        help_text="The 8-character code from a friend's invitation, in any letter case.",
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            candidate = User(name=cleaned.get("name") or "", email=cleaned.get("email"))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class EmailAuthenticationForm(auth_forms.AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct email address and password. Note that "
        "the password is case-sensitive.",
    }


class _PasswordSavedByService(SetPasswordMixin):
    def set_password_and_save(self, user, password_field_name="password1", commit=True):  # noqa: S107
        if not commit:
            user.set_password(self.cleaned_data[password_field_name])
            return user
        return user_password_set(user=user, password=self.cleaned_data[password_field_name])


class SetPasswordForm(_PasswordSavedByService, auth_forms.SetPasswordForm):
    pass


class PasswordChangeForm(_PasswordSavedByService, auth_forms.PasswordChangeForm):
    pass


class PasswordResetForm(auth_forms.PasswordResetForm):
    def get_users(self, email):
        # Addresses are stored lower case: an exact match uses the unique index
        # (Django's default __iexact is a regex that scans the collection).
        address = email.strip().lower()
        return (
            user
            for user in User.objects.filter(email=address, is_active=True)
            if user.has_usable_password()
        )


# --- Admin --------------------------------------------------------------------------


class UserAdminCreationForm(SetPasswordMixin, forms.ModelForm):
    """The admin's add form; the user itself is created by accounts.services.user_create."""

    password1, password2 = SetPasswordMixin.create_password_fields()

    class Meta:
        model = User
        fields = ["name", "email", "is_staff", "is_superuser"]

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip().lower()
        if not email:
            raise forms.ValidationError("An e-mail address is required.", code="required")
        return email

    def clean(self):
        self.validate_passwords()
        return super().clean()

    def _post_clean(self):
        super()._post_clean()
        self.validate_password_for_user(self.instance)


class UserAdminChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["name", "email", "is_active", "is_staff", "is_superuser", "groups"]

    def clean_email(self):
        return (self.cleaned_data.get("email") or "").strip().lower() or None


# --- Account settings ---------------------------------------------------------------


class AccountDeleteForm(forms.Form):
    """Confirms deleting one's own account: the current password.

    An account without a usable password (signed in through Clerk) confirms
    by typing DELETE instead, so that it too can be deleted from the site.
    """

    CONFIRM_WORD = "DELETE"

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="To confirm that it is you.",
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():
            del self.fields["password"]
            self.fields["confirm"] = forms.CharField(
                label=f"Type {self.CONFIRM_WORD} to confirm",
                widget=forms.TextInput(
                    attrs={"autocomplete": "off", "autocapitalize": "characters"}
                ),
            )

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(
                "The password is not right. Nothing was changed.", code="password_incorrect"
            )
        return password

    def clean_confirm(self):
        typed = self.cleaned_data["confirm"].strip()
        if typed.upper() != self.CONFIRM_WORD:
            raise forms.ValidationError(
                f"Type {self.CONFIRM_WORD} to confirm. Nothing was changed.",
                code="confirm_mismatch",
            )
        return typed
