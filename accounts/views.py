"""Sign-in, sign-out and password pages (sign-up is in referrals.views).

Sign-in, sign-up and password reset count every POST against a per-IP and a
per-account limit (accounts.ratelimit) before doing any work.
"""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from accounts import ratelimit
from accounts.forms import (
    EmailAuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)
from accounts.web import rate_limited, too_many_attempts


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        exceeded = rate_limited(
            request, scope=ratelimit.SCOPE_AUTH, email=request.POST.get("username")
        )
        if exceeded:
            form = self.get_form_class()(
                request, initial={"username": request.POST.get("username", "")}
            )
            return too_many_attempts(
                request, self.template_name, self.get_context_data(form=form), exceeded
            )
        return super().post(request, *args, **kwargs)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change_form.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("accounts:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    form_class = PasswordResetForm
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def post(self, request, *args, **kwargs):
        # Each request can send a mail: limited like sign-in, in its own scope.
        exceeded = rate_limited(
            request, scope=ratelimit.SCOPE_PASSWORD_RESET, email=request.POST.get("email")
        )
        if exceeded:
            form = self.get_form_class()(initial={"email": request.POST.get("email", "")})
            return too_many_attempts(
                request, self.template_name, self.get_context_data(form=form), exceeded
            )
        return super().post(request, *args, **kwargs)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = SetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
