"""Parsers and content negotiation shared by the API views."""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser


class CSVUploadParser(BaseParser):
    """A raw CSV body (`Content-Type: text/csv`): streamed to a temporary file on disk (as a
    multipart upload is) and handed to the view under "file"; never held in memory whole."""

    media_type = "text/csv"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        from django.core.files.uploadedfile import TemporaryUploadedFile

        if stream is None:
            return {"file": b""}
        upload = TemporaryUploadedFile("upload.csv", "text/csv", 0, None)
        while chunk := stream.read(64 * 1024):
            upload.write(chunk)
        upload.size = upload.tell()
        upload.seek(0)
        return {"file": upload}


class IgnoreFormatQueryNegotiation(DefaultContentNegotiation):
    """For views whose `?format=` is their own parameter (the AR aging export)."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type
