"""The JSON parser of every API endpoint (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

A module of its own: DRF imports the default parsers while rest_framework.views loads, so this
must not import core.api (which imports the views)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32  # our deepest body is a list of row objects (depth 3)


def _json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists/objects nest more than `limit` deep (iterative: no recursion of our own)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value if isinstance(item, list | dict))
    return False


class BoundedJSONParser(JSONParser):
    """JSONParser that answers 400 for nesting deeper than MAX_JSON_DEPTH: 5,000 `[` make the
    standard parser raise RecursionError (a 500), and a valid body a few hundred levels deep
    would do the same later in serializers or the idempotency fingerprint."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        message = f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep"
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(message) from None
        if _json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(message)
        return data
