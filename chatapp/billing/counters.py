"""Adding to the running sums of a counting row (a month's spend, a day's usage) in one
``UPDATE``, its statement written once per shape.

Every priced call adds to three or four such rows (the user's month, each limited group's
month, the day's usage), twice a reply (the reply, its title). Through the ORM each
``F(column) + value`` is compiled afresh: ~0.6 ms of Python for a one-column ``UPDATE`` the
database runs in ~50 µs (docs/benchmarks.md, issue 18). Here the statement of each shape
(table, key columns, summed columns) is built once from the models' fields and values are
prepared by those fields, as the ORM would. Synchronous (ORM connection).
"""

import functools
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def add_to(table: type[Model], key: dict[str, Any], amounts: dict[str, Any]) -> int:
    """Add ``amounts`` (column → value; a NULL sum counts as 0) to the row of ``table`` that
    ``key`` (column → value, by attribute name: ``user_id``) names; the rows updated (0: no
    such row yet)."""
    fields = _fields(table)
    sql = _statement(table, tuple(amounts), tuple(key))
    params = [fields[name].get_db_prep_save(value, connection) for name, value in amounts.items()]
    params += [fields[name].get_db_prep_value(value, connection) for name, value in key.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@functools.cache
def _fields(table: type[Model]) -> dict[str, Field]:
    return {field.attname: field for field in table._meta.concrete_fields}


@functools.cache
def _statement(table: type[Model], summed: tuple[str, ...], keys: tuple[str, ...]) -> str:
    quote, fields = connection.ops.quote_name, _fields(table)
    sets = ", ".join(
        f"{quote(fields[name].column)} = COALESCE({quote(fields[name].column)}, 0) + %s"
        for name in summed
    )
    where = " AND ".join(f"{quote(fields[name].column)} = %s" for name in keys)
    return f"UPDATE {quote(table._meta.db_table)} SET {sets} WHERE {where}"
