"""Sign-in, sign-out and password pages (sign-up is in referrals.views).

Sign-in (the site's and the admin's) and password changes count failed
password checks per IP address and per account; sign-up and password reset
count every POST (accounts.ratelimit). At the limit the answer is a 429.
"""

import logging

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.urls import reverse, reverse_lazy

from accounts import clerk, ratelimit
from accounts.forms import (
    EmailAuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)
from accounts.services import clerk_session_end
from accounts.web import (
    device_remember,
    failure_register,
    failures_over_limit,
    rate_limited,
    too_many_attempts,
)


class RateLimitedLoginMixin:
    """Failed sign-ins count per IP address and per account; at the limit, 429.

    Only failures count, and a browser that signed in to the account before
    is not held back by failures on the account from elsewhere: ten wrong
    passwords from ten addresses cannot lock the owner out.
    """

    def post(self, request, *args, **kwargs):
        email = request.POST.get("username")
        exceeded = failures_over_limit(request, scope=ratelimit.SCOPE_AUTH, email=email)
        if exceeded:
            form = self.get_form_class()(request, initial={"username": email or ""})
            return too_many_attempts(
                request, self.template_name, self.get_context_data(form=form), exceeded
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        failure_register(
            self.request, scope=ratelimit.SCOPE_AUTH, email=self.request.POST.get("username")
        )
        return super().form_invalid(form)

    def form_valid(self, form):
        response = super().form_valid(form)
        device_remember(self.request, response, form.get_user().email or "")
        return response


class LoginView(RateLimitedLoginMixin, auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class AdminLoginView(RateLimitedLoginMixin, auth_views.LoginView):
    """The admin's sign-in page with the site's limits (routed before admin.site's own)."""

    template_name = "admin/login.html"
    authentication_form = AdminAuthenticationForm

    def get_context_data(self, **kwargs):
        return {
            **admin.site.each_context(self.request),
            **super().get_context_data(**kwargs),
            "title": "Log in",
            "site_header": admin.site.site_header,
            "app_path": self.request.get_full_path(),
            "username": self.request.user.get_username(),
        }

    def get_default_redirect_url(self):
        return reverse("admin:index")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change_form.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("accounts:password_change_done")

    def post(self, request, *args, **kwargs):
        # A signed-in session must not become a way to guess the password.
        exceeded = failures_over_limit(
            request, scope=ratelimit.SCOPE_PASSWORD_CHECK, email=request.user.email
        )
        if exceeded:
            return too_many_attempts(
                request, self.template_name, self.get_context_data(form=self.get_form()), exceeded
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if form.has_error("old_password"):
            failure_register(
                self.request, scope=ratelimit.SCOPE_PASSWORD_CHECK, email=self.request.user.email
            )
        return super().form_invalid(form)


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


logger = logging.getLogger("accounts.clerk")


class LogoutView(auth_views.LogoutView):
    """Sign-out (POST only): also ends the Clerk session behind a Clerk sign-in.

    The Clerk session is revoked through the Backend API and recorded as
    ended here, so the session token still in the browser (valid for about
    a minute) cannot sign the user straight back in; ClerkJS's cookies on
    this domain are cleared. When Clerk cannot be reached the local record
    still refuses that session's tokens.
    """

    def post(self, request, *args, **kwargs):
        sid = request.session.get(clerk.SID_SESSION_KEY)
        user = request.user if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if sid:
            clerk_session_end(session_id=sid, user=user)
            if clerk.has_backend_api():
                try:
                    clerk.clerk_session_revoke(session_id=sid)
                except clerk.ClerkUnavailable as exc:
                    logger.warning("clerk session revoke failed: %s", exc)
        for name in clerk.clerk_cookie_names(request):
            response.delete_cookie(name, samesite="Lax")
        return response
