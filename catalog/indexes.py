"""A classic MongoDB text index, created by migrations like any Django index."""

from django.db.models import Index
from pymongo import TEXT
from pymongo.operations import IndexModel


class TextIndex(Index):
    """``{field: "text"}``: what schema.md asks for on products.title.

    django-mongodb-backend knows B-tree and Atlas search indexes only, so this
    class builds the pymongo IndexModel itself; the backend's schema editor
    creates and drops it through the same migration operations.
    """

    suffix = "text"

    def get_pymongo_index_model(self, model, schema_editor, field=None):
        keys = [(model._meta.get_field(name).column, TEXT) for name in self.fields]
        return IndexModel(keys, name=self.name)
