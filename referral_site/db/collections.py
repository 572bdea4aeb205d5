"""A model's MongoDB collection, for the commands the ORM does not express."""

from django.db import connection


def collection(model):
    """The collection behind ``model``, through the backend's connection.

    Through the backend so that a transaction's session and the debug query
    log apply; the command listener counts these calls either way.
    """
    return connection.get_collection(model._meta.db_table)
