"""Account settings: download one's data, delete one's account (GDPR)."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from accounts import clerk, ratelimit
from accounts.forms import AccountDeleteForm
from accounts.services import clerk_session_end
from accounts.web import failure_register, failures_over_limit, too_many_attempts
from backoffice.gdpr import export_to_json, user_data_export, user_erase
from referral_site.exceptions import ApplicationError


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
    email = request.user.email
    exceeded = failures_over_limit(request, scope=ratelimit.SCOPE_PASSWORD_CHECK, email=email)
    if exceeded:
        context = {"delete_form": AccountDeleteForm(request.user)}
        return too_many_attempts(request, "accounts/settings.html", context, exceeded)
    form = AccountDeleteForm(request.user, request.POST)
    if not form.is_valid():
        if form.has_error("password"):
            failure_register(request, scope=ratelimit.SCOPE_PASSWORD_CHECK, email=email)
        return _settings_page(request, form)
    try:
        user_erase(user=request.user, actor=request.user)
    except ApplicationError as exc:
        form.add_error(None, exc.message)
        return _settings_page(request, form)
    return _deleted(request)


def _deleted(request):
    # Ends this session now; any other session of the account stops working
    # because the account is inactive (see user_erase). A Clerk session
    # behind this one is refused from now on (its token lives a minute more).
    sid = request.session.get(clerk.SID_SESSION_KEY)
    if sid:
        clerk_session_end(session_id=sid, user=request.user)
    logout(request)
    messages.success(
        request,
        "Your account has been deleted and your personal data erased. Thank you for having "
        "been with us.",
    )
    response = redirect("home")
    for name in clerk.clerk_cookie_names(request):
        # The erased account no longer carries its Clerk id, so a Clerk token
        # left in the browser would sign a brand-new account in.
        response.delete_cookie(name, samesite="Lax")
    return response
