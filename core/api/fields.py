"""Serializer fields every app's API shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers


def username_field(relation: str) -> serializers.CharField:
    """The username of the user in `relation` (who started, approved, ...); null when nobody."""
    return serializers.CharField(
        source=f"{relation}.username", read_only=True, allow_null=True, default=None
    )


def with_nested(base: type[serializers.ModelSerializer], **nested: serializers.Field) -> Any:
    """`base` plus nested read-only fields: a resource's detail representation (its list rows
    and, e.g., a payment's allocations). Named `<Base>DetailSerializer` in the schema."""
    fields = [*base.Meta.fields, *nested]
    meta = type("Meta", (base.Meta,), {"fields": fields, "read_only_fields": fields})
    name = base.__name__.removesuffix("Serializer") + "DetailSerializer"
    attrs = {**nested, "Meta": meta, "__module__": base.__module__, "__qualname__": name}
    metaclass: Callable[..., type[serializers.ModelSerializer]] = type(base)  # DRF's metaclass
    return metaclass(name, (base,), attrs)
