"""The database ENGINE: django-mongodb-backend with two small changes.

1. ``get_database_version`` asks ``buildInfo`` (camel case) instead of going
   through pymongo's ``server_info()``, which sends ``buildinfo``. Real MongoDB
   answers both the same; the embedded stand-in knows only ``buildInfo``
   (ARCHITECTURE.md section 3, gap 1).
2. Every MongoClient carries the site's command listeners
   (referral_site/db_monitoring.py), which count commands per request, the
   operations tools' capture listener (referral_site/ops/queryplans.py) and
   the Prometheus listeners (referral_site/metrics.py).
3. When the settings carry an ``EMBEDDED`` entry (``MONGODB_URI`` unset), the
   embedded server is started on first connection, not at import time, so that
   commands that never touch the database never start it.
4. ``get_collection`` hands out one pymongo Collection per name and client
   instead of building one for every query: building one copies the
   database's codec options, read preference, read and write concerns (about
   15 us), and the award POST asks for a collection 13 times.
"""

from pathlib import Path

from django_mongodb_backend.base import DatabaseWrapper as MongoDatabaseWrapper


class DatabaseWrapper(MongoDatabaseWrapper):
    def get_connection_params(self):
        embedded = self.settings_dict.get("EMBEDDED")
        if embedded and not self.settings_dict.get("HOST"):
            from referral_site import embedded as embedded_server

            self.settings_dict["HOST"] = embedded_server.ensure_running(
                Path(embedded["DATA_DIR"]), port=int(embedded["PORT"])
            )
        return super().get_connection_params()

    def get_new_connection(self, conn_params):
        from referral_site.db_monitoring import event_listeners
        from referral_site.metrics import metrics_listeners
        from referral_site.ops.queryplans import CAPTURE_LISTENER

        conn_params = {
            **conn_params,
            "event_listeners": [
                *conn_params.get("event_listeners", ()),
                *event_listeners(),
                # Idle unless explain_queries/index_report capture a page's commands.
                CAPTURE_LISTENER,
                # Prometheus metrics (commands, connection pool) when METRICS_ENABLED.
                *metrics_listeners(),
            ],
        }
        return super().get_new_connection(conn_params)

    def get_collection(self, name, **kwargs):
        # DEBUG's query log wraps each collection it hands out, and options
        # make a different collection: those go the backend's way.
        if kwargs or self.queries_logged:
            return super().get_collection(name, **kwargs)
        database = self.database  # a new object after close_pool() and a reconnection
        cached = self.__dict__.get("_collections")
        if cached is None or cached[0] is not database:
            cached = self._collections = (database, {})
        collection = cached[1].get(name)
        if collection is None:
            collection = cached[1][name] = super().get_collection(name)
        return collection

    def init_connection_state(self):
        super().init_connection_state()
        # Ask `hello` once, at connection time, whether the deployment has
        # transactions (referral_site.transactions), not during a request.
        self.features._supports_transactions  # noqa: B018

    def get_database_version(self):
        build_info = self.connection.admin.command("buildInfo")
        return tuple(build_info["versionArray"])
