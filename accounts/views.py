"""Sign-up, sign-in, sign-out, password and account settings pages.

Sign-in, sign-up and password reset count every POST against a per-IP and a
per-account limit (accounts.ratelimit) before doing any work.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.template.defaultfilters import pluralize
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import clerk, ratelimit
from accounts.forms import (
    AccountDeleteForm,
    EmailAuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    SignupForm,
)
from accounts.gdpr import export_to_json, user_data_export, user_erase
from accounts.selectors import user_get_by_referral_code
from accounts.services import user_signup
from referral_site.exceptions import ApplicationError
from referrals.views import referral_code_forget, referral_code_remembered

# The backend recorded in the session for users signed in without a password
# check by Django (sign-up, Clerk): any configured backend's get_user() works.
SESSION_BACKEND = "accounts.backends.EmailBackend"


def _rate_limited(request, *, scope: str, email: str | None):
    return ratelimit.attempt_register(scope=scope, ip=ratelimit.client_ip(request), email=email)


def _too_many_attempts(request, template: str, context: dict, exceeded):
    minutes = exceeded.retry_after_minutes
    context = {
        **context,
        "rate_limit_message": (
            "Too many attempts from this address or for this account. Please wait "
            f"{minutes} minute{pluralize(minutes)} and try again."
        ),
    }
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(exceeded.retry_after_seconds)
    return response


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request):
    target = _safe_next(request) or resolve_url(settings.SIGNUP_REDIRECT_URL)
    if request.user.is_authenticated:
        return redirect(target)
    context = {"next": _safe_next(request) or ""}
    if request.method == "POST":
        exceeded = _rate_limited(request, scope=ratelimit.SCOPE_AUTH,
                                 email=request.POST.get("email"))
        if exceeded:
            form = SignupForm(initial={
                key: request.POST.get(key, "") for key in ("name", "email", "referral_code")})
            return _too_many_attempts(request, "accounts/signup.html",
                                      {**context, "form": form}, exceeded)
        form = SignupForm(request.POST)
        if form.is_valid():
            try:
                user = user_signup(**form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(exc.field, exc.message)
            else:
                login(request, user, backend=SESSION_BACKEND)
                messages.success(request, "Welcome! Your account is ready.")
                response = redirect(target)
                referral_code_forget(request, response)
                return response
        inviter = user_get_by_referral_code(code=form.data.get("referral_code"))
    else:
        code = referral_code_remembered(request)
        inviter = user_get_by_referral_code(code=code) if code else None
        form = SignupForm(initial={"referral_code": inviter.referral_code if inviter else ""})
    context.update(form=form, inviter=inviter)
    return render(request, "accounts/signup.html", context)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        exceeded = _rate_limited(request, scope=ratelimit.SCOPE_AUTH,
                                 email=request.POST.get("username"))
        if exceeded:
            form = self.get_form_class()(request, initial={
                "username": request.POST.get("username", "")})
            return _too_many_attempts(request, self.template_name,
                                      self.get_context_data(form=form), exceeded)
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
        exceeded = _rate_limited(request, scope=ratelimit.SCOPE_PASSWORD_RESET,
                                 email=request.POST.get("email"))
        if exceeded:
            form = self.get_form_class()(initial={"email": request.POST.get("email", "")})
            return _too_many_attempts(request, self.template_name,
                                      self.get_context_data(form=form), exceeded)
        return super().post(request, *args, **kwargs)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = SetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- Account settings: data download and account deletion (GDPR) ------------------------


def _settings_page(request, delete_form):
    return render(request, "accounts/settings.html", {"delete_form": delete_form})


@login_required
@never_cache
@require_GET
def account_settings(request):
    return _settings_page(request, AccountDeleteForm(request.user))


@login_required
@never_cache
@require_GET
def account_export(request):
    """The signed-in user's data, as ``manage.py gdpr_export`` writes it."""
    text = export_to_json(user_data_export(user_id=request.user.pk))
    response = HttpResponse(text, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@sensitive_post_parameters("password")
@login_required
@never_cache
@require_POST
def account_delete(request):
    form = AccountDeleteForm(request.user, request.POST)
    if form.is_valid():
        try:
            user_erase(user=request.user, actor=request.user)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            # Ends this session now; any other session of the account stops
            # working because the account is inactive (see user_erase).
            logout(request)
            messages.success(request, "Your account has been deleted and your personal data "
                                      "erased. Thank you for having been with us.")
            response = redirect("home")
            if clerk.SESSION_COOKIE in request.COOKIES:
                # The erased account no longer carries its Clerk id, so a Clerk
                # token left in the browser would sign a brand-new account in.
                response.delete_cookie(clerk.SESSION_COOKIE)
            return response
    return _settings_page(request, form)
