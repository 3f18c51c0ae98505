"""The FilterSet base of every API filter: date filters, declared or generated from a model's
DateField, are bounded (core.dates.DATE_BOUNDS), so `?period=0001-01-01` is a 400, not a 500."""

from __future__ import annotations

import django_filters
from django.db import models

from core.dates import DATE_BOUNDS


class BoundedFilterSet(django_filters.FilterSet):
    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateField: {
            "filter_class": django_filters.DateFilter,
            "extra": lambda f: {"validators": DATE_BOUNDS},
        },
    }
