"""The one way Billable renders PDFs: a Django template through WeasyPrint, fetching nothing.

The firm's letterhead is one as well: `firm_letterhead()` (from the BILLING_FIRM_* settings) and the
template include `templates/core/pdf/letterhead.html` (its CSS in `letterhead.css`), used by the
invoice and credit note PDFs (which print the seller frozen on the document), the aging and
statement PDFs and the portal's header. The logo is a path inside templates/ (relative to it, or
absolute); any other path is ignored so the renderer never reads elsewhere.

The URL fetcher allows only `data:` URLs and files inside the templates folder (for a logo or a
font shipped with the project). Any other URL (http, https, ftp, file outside templates/) is refused,
so customer-controlled text such as `file:///etc/passwd` or `http://127.0.0.1:...` can never make the
renderer read a file or open a connection. Fonts come from the system's fontconfig (DejaVu).
"""

from __future__ import annotations

import functools
import gc
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.template.loader import render_to_string
from weasyprint import CSS, HTML
from weasyprint.css.counters import CounterStyle
from weasyprint.html import UA, UA_FORM_STYLESHEET
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from core.errors import BillingError

logger = logging.getLogger(__name__)

TEMPLATES_DIR = (Path(settings.BASE_DIR) / "templates").resolve()


def firm_logo_uri() -> str | None:
    """BILLING_FIRM_LOGO as a file: URI when it is a file inside templates/, else None."""
    logo = (settings.BILLING_FIRM_LOGO or "").strip()
    if not logo:
        return None
    path = Path(logo)
    path = (path if path.is_absolute() else TEMPLATES_DIR / path).resolve()
    if path.is_relative_to(TEMPLATES_DIR) and path.is_file():
        return path.as_uri()
    logger.warning("BILLING_FIRM_LOGO %s is not a file inside templates/: ignored", logo)
    return None


def firm_letterhead() -> dict[str, Any]:
    """The firm as the letterhead include prints it (the same fields as an invoice's seller)."""
    return {
        "name": settings.BILLING_FIRM_NAME.strip(),
        "address_lines": [
            x.strip() for x in settings.BILLING_FIRM_ADDRESS.splitlines() if x.strip()
        ],
        "postal_code": settings.BILLING_FIRM_POSTAL_CODE.strip(),
        "city": settings.BILLING_FIRM_CITY.strip(),
        "country": settings.BILLING_FIRM_COUNTRY.strip().upper(),
        "vat_id": settings.BILLING_FIRM_VAT_ID.strip(),
        "registration": settings.BILLING_FIRM_REGISTRATION.strip(),
        "email": settings.BILLING_FIRM_EMAIL.strip(),
        "logo": firm_logo_uri(),
    }


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


_FONTS: list[FontConfiguration] = []


def font_config() -> FontConfiguration:
    """WeasyPrint's font configuration, loaded once per process (issue 16): by default every
    render builds its own, which loads fontconfig's font list again (about 20 ms a render on
    this machine). The templates declare no @font-face, so the shared one never grows."""
    if not _FONTS:
        _FONTS.append(FontConfiguration())
    return _FONTS[0]


@functools.cache
def stylesheet(*names: str) -> CSS:
    """The CSS files `names` (paths under templates/, in cascade order) as one stylesheet, parsed
    once per process (issue 16): a `<style>` block in the template is parsed again on every
    render (about a tenth of a 1-page invoice). The files are plain CSS, not templates; what
    differs per document comes from the document (attributes, `string-set`)."""
    text = "\n".join((TEMPLATES_DIR / name).read_text(encoding="utf-8") for name in names)
    return CSS(
        string=text,
        base_url=TEMPLATES_DIR.as_uri() + "/",
        url_fetcher=LocalOnlyFetcher(),
        font_config=font_config(),
    )


def lean_user_agent_css(ua: str = UA) -> str:
    """WeasyPrint's HTML user-agent stylesheet less its universal pseudo-element rules (issue 16):
    `::footnote-call`, `::footnote-marker`, `::note-call`, `::note-marker` and `::note-callback`
    are dropped and `::marker` is kept for `li` only. Each universal one gives every element of
    the document a cascaded, computed style of its own (six per element), which is about a tenth
    of a 200-line invoice's render. Billable's PDF templates have no footnotes, notes or lists,
    so their PDFs are byte for byte the same (tests/invoicing/test_pdf_costs.py)."""
    kept = []
    for line in ua.splitlines():
        if line.startswith("::marker"):
            kept.append("li" + line)
        elif not line.startswith("::"):
            kept.append(line)
    return "\n".join(kept)


@functools.cache
def lean_user_agent_stylesheet() -> CSS:
    # Its own CounterStyle: WeasyPrint's UA already registered the same @counter-style rules.
    return CSS(string=lean_user_agent_css(), counter_style=CounterStyle())


class LeanHTML(HTML):
    """An HTML document styled by `lean_user_agent_stylesheet` instead of WeasyPrint's own UA."""

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        sheets = [lean_user_agent_stylesheet()]
        return [*sheets, UA_FORM_STYLESHEET] if forms else sheets


_HEAP_FROZEN: list[bool] = []


def freeze_heap_once() -> None:
    """After the first render of a process, move everything it holds into the garbage
    collector's permanent generation (`gc.freeze`, issue 16). By then a worker or web process
    holds Django, the app, WeasyPrint's fonts and stylesheets (about 145,000 tracked objects),
    which every full (generation-2) collection scanned again: renders back to back set one off
    every 20 renders, 130-146 ms of CPU each on this machine, 6.5-7.3 ms a render on average.
    Frozen objects are never collected: what the process held at that moment and later drops
    as a reference cycle stays allocated, a bounded, one-time cost."""
    if _HEAP_FROZEN:
        return
    _HEAP_FROZEN.append(True)
    gc.collect()
    gc.freeze()


def render_pdf(
    template_name: str,
    context: dict[str, Any],
    *,
    pdf_variant: str | None = None,
    stylesheets: tuple[str, ...] = (),
) -> bytes:
    """Render `template_name` with `context` to PDF bytes (`pdf_variant`: e.g. "pdf/a-3b"),
    styled by its own `<style>` and/or the CSS files `stylesheets` (see `stylesheet`)."""
    html = render_to_string(template_name, context)
    return html_to_pdf(html, pdf_variant=pdf_variant, stylesheets=stylesheets)


def html_to_pdf(
    html: str, *, pdf_variant: str | None = None, stylesheets: tuple[str, ...] = ()
) -> bytes:
    try:
        document = LeanHTML(
            string=html, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=LocalOnlyFetcher()
        )
        pdf = document.write_pdf(
            pdf_variant=pdf_variant,
            font_config=font_config(),
            stylesheets=[stylesheet(*stylesheets)] if stylesheets else None,
        )
    except (ArithmeticError, RecursionError) as exc:
        # WeasyPrint crashes on out-of-range CSS (font-size: 1e8px, letter-spacing: 1e8px) and on
        # very deep nesting; refuse with a readable message instead of a traceback.
        raise BillingError(
            f"The PDF could not be rendered: the document has an out-of-range value or is nested "
            f"too deeply ({type(exc).__name__})."
        ) from None
    freeze_heap_once()
    return pdf
