"""Parsers and content negotiation shared by the API views."""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser


class CSVUploadParser(BaseParser):
    """A raw CSV body (`Content-Type: text/csv`): handed to the view as bytes under "file"."""

    media_type = "text/csv"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return {"file": stream.read() if stream is not None else b""}


class IgnoreFormatQueryNegotiation(DefaultContentNegotiation):
    """For views whose `?format=` is their own parameter (the AR aging export)."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type
