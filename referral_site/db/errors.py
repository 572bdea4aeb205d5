"""What a refused write tells us, read the same way from every MongoDB."""

import re

from django.db import IntegrityError

_DUP_KEY_FIELD = re.compile(r"dup key: \{ *\"?(\w+)")


def duplicate_key_field(exc: IntegrityError) -> str | None:
    """The field (stored name) whose unique index refused an insert, if known.

    MongoDB reports it as ``keyPattern`` (pymongo's DuplicateKeyError, or each
    entry of a BulkWriteError); older servers only in the message text.
    """
    cause = exc.__cause__ or exc.__context__
    details = getattr(cause, "details", None) or {}
    errors = details.get("writeErrors") or [details]
    for error in errors:
        pattern = error.get("keyPattern") if isinstance(error, dict) else None
        if pattern:
            return next(iter(pattern))
    match = _DUP_KEY_FIELD.search(str(exc))
    return match.group(1) if match else None
