"""Query expressions the ORM has no spelling for."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import BooleanField, F, Func, QuerySet


class _EqualsAny(Func):
    template = "%(expressions)s)"
    arg_joiner = " = ANY("
    output_field = BooleanField()
    conditional = True


def in_subquery_by_index(column: str, values: QuerySet[Any]) -> _EqualsAny:
    """`column = ANY(ARRAY(values))`, a filter: the subquery runs once (an InitPlan) and each of
    its values is looked up in `column`'s index, whatever the size of the table. `column IN
    (values)` lets PostgreSQL plan a scan of the whole table hashed against the subquery's rows
    once it estimates the subquery large enough (issue 16: the review page's flags, the
    customers list's allocations and credit notes)."""
    return _EqualsAny(F(column), ArraySubquery(values))
