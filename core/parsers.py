"""The JSON parser of every API endpoint (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

A module of its own: DRF imports the default parsers while rest_framework.views loads, so this
must not import core.api (which imports the views)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, renderers
from rest_framework.parsers import BaseParser, JSONParser

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


class ImportJSONParser(BaseParser):
    """The JSON parser of the import endpoints: a body of up to BILLING_JSON_MAX_BYTES (default
    10 MB, checked from Content-Length by core.middleware.BodyLimitMiddleware), parsed as
    BoundedJSONParser parses.

    Not a JSONParser on purpose: DRF reads a JSONParser's body through `request.body`, which
    raises RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), so a valid 3.3 MB import
    of 14,000 rows was refused (issue 17 item 8) although its limit is 10 MB. Any other parser
    is handed the request stream itself, which Django bounds by Content-Length."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        # At most Content-Length bytes (Django's LimitedStream), which the middleware bounded.
        return BoundedJSONParser().parse(stream, media_type, parser_context)
