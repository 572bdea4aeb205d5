"""Model instances to and from MongoDB documents, without compiling a query.

The ORM compiles every query it runs (about half a millisecond of Python
each, more than a round trip to a nearby server). Hot paths that read one
document by key, or insert one they built, use pymongo directly and these
two functions to stay in model instances with the ORM's own conversions:

* ``instance_from(model, document)``: what ``Model.objects.get()`` would have
  returned for that document (the backend's and the fields' converters,
  ``Model.from_db``: ``_state.adding`` False, the database recorded);
* ``document_for(instance)``: the document ``instance.save(force_insert=True)``
  would have inserted (``pre_save`` for auto_now fields, the fields'
  ``get_db_prep_save``);
* ``set_document(model, values)``: the ``$set`` of ``QuerySet.update(**values)``.

The converters are looked up once per model and process.
"""

from __future__ import annotations

from functools import cache

from django.db import connection


@cache
def _reader(model) -> tuple[tuple[str, ...], tuple[tuple[str, object, tuple], ...]]:
    """(attnames, per field: (column, the Col expression, its converters)), in field order."""
    fields = model._meta.concrete_fields
    columns = []
    for field in fields:
        col = field.get_col(model._meta.db_table)
        converters = tuple(
            connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        )
        columns.append((field.column, col, converters))
    return tuple(field.attname for field in fields), tuple(columns)


def instance_from(model, document: dict):
    """The model instance for a document read with pymongo (every field present or None)."""
    attnames, columns = _reader(model)
    values = []
    for column, col, converters in columns:
        value = document.get(column)
        for converter in converters:
            value = converter(value, col, connection)
        values.append(value)
    return model.from_db(connection.alias, attnames, values)


def document_for(instance) -> dict:
    """The document that inserting ``instance`` through the ORM would store.

    ``instance`` must have its primary key set (the caller inserts it).
    """
    document = {}
    for field in instance._meta.concrete_fields:
        value = field.pre_save(instance, add=True)
        document[field.column] = field.get_db_prep_save(value, connection)
    return document


def column(model, field_name: str) -> str:
    """The document key of a model field ("pk" is _id)."""
    if field_name == "pk":
        return "_id"
    return model._meta.get_field(field_name).column


def set_document(model, values: dict) -> dict:
    """{column: stored value} for {field name: value}, as QuerySet.update() would store it."""
    document = {}
    for name, value in values.items():
        field = model._meta.get_field(name)
        document[field.column] = field.get_db_prep_save(value, connection)
    return document


def saved(instance) -> None:
    """Mark an instance inserted by hand as the ORM marks one it saved."""
    instance._state.adding = False
    instance._state.db = connection.alias
