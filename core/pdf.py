"""The one way Billable renders PDFs: a Django template through WeasyPrint, fetching nothing.

The URL fetcher allows only `data:` URLs and files inside the templates folder (for a logo or a
font shipped with the project). Any other URL (http, https, ftp, file outside templates/) is refused,
so customer-controlled text such as `file:///etc/passwd` or `http://127.0.0.1:...` can never make the
renderer read a file or open a connection. Fonts come from the system's fontconfig (DejaVu).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from core.errors import BillingError

TEMPLATES_DIR = (Path(settings.BASE_DIR) / "templates").resolve()


class LocalOnlyFetcher(URLFetcher):
    """Serves data: URLs and files under templates/; refuses everything else."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False, timeout=1)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parsed = urlparse(url)
        if parsed.scheme == "data":
            return super().fetch(url, headers)
        if parsed.scheme == "file" and not parsed.netloc:
            path = Path(unquote(parsed.path)).resolve()
            if path.is_relative_to(TEMPLATES_DIR) and path.is_file():
                return URLFetcherResponse(url, body=path.read_bytes())
        self.refused.append(url)
        raise ValueError(f"PDF renderer fetches nothing outside templates/: {url[:200]}")


def render_pdf(
    template_name: str, context: dict[str, Any], *, pdf_variant: str | None = None
) -> bytes:
    """Render `template_name` with `context` to PDF bytes (`pdf_variant`: e.g. "pdf/a-3b")."""
    html = render_to_string(template_name, context)
    return html_to_pdf(html, pdf_variant=pdf_variant)


def html_to_pdf(html: str, *, pdf_variant: str | None = None) -> bytes:
    try:
        document = HTML(
            string=html, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=LocalOnlyFetcher()
        )
        return document.write_pdf(pdf_variant=pdf_variant)
    except (ArithmeticError, RecursionError) as exc:
        # WeasyPrint crashes on out-of-range CSS (font-size: 1e8px, letter-spacing: 1e8px) and on
        # very deep nesting; refuse with a readable message instead of a traceback.
        raise BillingError(
            f"The PDF could not be rendered: the document has an out-of-range value or is nested "
            f"too deeply ({type(exc).__name__})."
        ) from None
