"""Django's database session store, reading a session by key without the ORM.

Every signed-in request reads its session first. The ORM would compile that
one indexed lookup anew each time (about as long as the round trip itself);
this store sends the same ``find`` through pymongo and builds the same
``Session`` instance with the model's own conversions
(``referral_site.db.documents``). Same semantics, same single command:
writing, rotating, expiring and ``clearsessions`` are Django's.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from referral_site.db.collections import collection
from referral_site.db.documents import instance_from


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        key = self.session_key
        document = None
        if key is not None:
            column = self.model._meta.get_field("session_key").column
            expires = self.model._meta.get_field("expire_date").column
            document = collection(self.model).find_one(
                {column: key, expires: {"$gt": timezone.now()}}
            )
        if document is None:
            self._session_key = None
            return None
        return instance_from(self.model, document)
