"""Sign in by e-mail address, matched case-insensitively (stored lower case)."""

from bson import ObjectId
from bson.errors import InvalidId
from django.contrib.auth.backends import ModelBackend

from accounts.models import User
from referral_site.db.collections import collection
from referral_site.db.documents import instance_from


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

    def get_user(self, user_id):
        """The signed-in user of every request: one read by _id through pymongo.

        ModelBackend.get_user's semantics (None when unknown or inactive),
        without compiling an ORM query each request.
        """
        try:
            pk = user_id if isinstance(user_id, ObjectId) else ObjectId(user_id)
        except (InvalidId, TypeError):
            return None
        document = collection(User).find_one({"_id": pk})
        if document is None:
            return None
        user = instance_from(User, document)
        return user if self.user_can_authenticate(user) else None


# The backend recorded in the session for users signed in without a password
# check by Django (sign-up, Clerk): any configured backend's get_user() works.
SESSION_BACKEND = f"{EmailBackend.__module__}.{EmailBackend.__qualname__}"
