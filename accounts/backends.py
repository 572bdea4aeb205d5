"""Sign in by e-mail address, matched case-insensitively (stored lower case)."""

from django.contrib.auth.backends import ModelBackend

from accounts.models import User


class EmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        address = (email or username or "").strip().lower()
        if not address or password is None:
            return None
        try:
            user = User.objects.get(email=address)
        except User.DoesNotExist:
            # Run the hasher anyway so timing does not reveal which addresses exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


# The backend recorded in the session for users signed in without a password
# check by Django (sign-up, Clerk): any configured backend's get_user() works.
SESSION_BACKEND = f"{EmailBackend.__module__}.{EmailBackend.__qualname__}"
