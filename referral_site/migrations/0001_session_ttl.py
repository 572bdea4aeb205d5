"""Sessions expire inside MongoDB: a TTL index on django_session.expire_date.

Django creates a plain index on expire_date; it is replaced by a TTL index on
the same key (expireAfterSeconds 0: a document goes once its expire_date has
passed), so no `clearsessions` cron job is needed and no server keeps them.
"""

from django.db import migrations

PLAIN = "django_session_expire_date_a5c62663"
TTL = "django_session_expire_date_ttl"


def _indexes(collection):
    return {index["name"]: index for index in collection.list_indexes()}


def to_ttl(apps, schema_editor):
    sessions = schema_editor.connection.get_collection("django_session")
    indexes = _indexes(sessions)
    if TTL in indexes:
        return
    for name, index in indexes.items():
        if name != "_id_" and list(index["key"].keys()) == ["expire_date"]:
            sessions.drop_index(name)
    sessions.create_index("expire_date", name=TTL, expireAfterSeconds=0)


def to_plain(apps, schema_editor):
    sessions = schema_editor.connection.get_collection("django_session")
    if TTL in _indexes(sessions):
        sessions.drop_index(TTL)
    sessions.create_index("expire_date", name=PLAIN)


class Migration(migrations.Migration):
    dependencies = [("sessions", "0001_initial")]

    operations = [migrations.RunPython(to_ttl, to_plain)]
