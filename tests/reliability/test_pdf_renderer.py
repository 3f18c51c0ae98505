"""PDF renderer (issue 9): hostile template data fetches nothing and renders within a time limit.

Each payload is one trial. A violation is: a TCP connection reaching our listener on 127.0.0.1,
any socket connect at all, an open() of a file under /etc, /proc or the home directory, the
secret text in the PDF, an exception, or a render slower than the limit.
"""

from __future__ import annotations

import io
import signal
import time

import pytest
from pypdf import PdfReader

from core.errors import BillingError
from core.pdf import html_to_pdf, render_pdf
from tests.reliability.conftest import trial_count
from tests.reliability.hostile import CountingListener, watching

LIMIT_SECONDS = 20.0  # generous: 2 shared cores; a clean render takes well under 2 s
FORBIDDEN = ("/etc/passwd", "/etc/shadow", "/etc/hostname", "/proc/self/environ")


def hostile_payloads(port: int) -> list[tuple[str, str]]:
    http = f"http://127.0.0.1:{port}"
    css_huge = (
        "width: 99999999999px; height: 99999999999px; font-size: 100000000px; "
        "margin: -999999999px 999999999px; padding: 1000000000000px; letter-spacing: 99999999px; "
        "line-height: 999999999; border: 999999999px solid black; column-count: 100000; "
        "transform: scale(100000); word-spacing: 99999999999px; text-indent: -99999999999px"
    )
    return [
        ("img file", '<img src="file:///etc/passwd">'),
        ("img file localhost", '<img src="file://localhost/etc/passwd">'),
        ("img absolute path", '<img src="/etc/passwd">'),
        ("img traversal", '<img src="../../../../../../etc/passwd">'),
        ("img traversal encoded", '<img src="..%2f..%2f..%2f..%2f..%2fetc%2fpasswd">'),
        ("img proc", '<img src="file:///proc/self/environ">'),
        ("img http", f'<img src="{http}/pixel.png">'),
        ("img https", f'<img src="https://127.0.0.1:{port}/pixel.png">'),
        ("img ftp", f'<img src="ftp://127.0.0.1:{port}/pixel.png">'),
        ("stylesheet link", f'<link rel="stylesheet" href="{http}/evil.css">'),
        ("stylesheet file", '<link rel="stylesheet" href="file:///etc/passwd">'),
        (
            "css import",
            f'<style>@import url("{http}/i.css"); @import "file:///etc/passwd";</style>',
        ),
        ("css background", "<div style=\"background: url('file:///etc/passwd')\">x</div>"),
        ("css background http", f"<div style=\"background-image: url('{http}/bg.png')\">x</div>"),
        ("css content url", f'<style>p::before {{ content: url("{http}/c.png") }}</style><p>x</p>'),
        ("css list image", f"<ul style=\"list-style-image: url('{http}/l.png')\"><li>x</li></ul>"),
        (
            "css border image",
            "<div style=\"border: 5px solid; border-image: url('file:///etc/passwd') 30\">x</div>",
        ),
        (
            "font face",
            f"<style>@font-face {{ font-family: Evil; src: url({http}/f.woff) }} "
            "body { font-family: Evil }</style><p>text</p>",
        ),
        (
            "font face file",
            "<style>@font-face { font-family: E; src: url(file:///etc/passwd) } p { font-family: E }</style><p>x</p>",
        ),
        ("attachment anchor", '<a rel="attachment" href="file:///etc/passwd">passwd</a>'),
        ("attachment link", '<link rel="attachment" href="file:///etc/shadow">'),
        ("attachment http", f'<a rel="attachment" href="{http}/x.bin">x</a>'),
        ("object", '<object data="file:///etc/passwd" type="text/plain"></object>'),
        ("embed", f'<embed src="{http}/e.svg" type="image/svg+xml">'),
        ("iframe", '<iframe src="file:///etc/passwd"></iframe>'),
        (
            "svg image",
            '<svg width="10" height="10"><image href="file:///etc/passwd" width="10" height="10"/></svg>',
        ),
        ("svg use", f'<svg width="10" height="10"><use href="{http}/s.svg#a"/></svg>'),
        (
            "svg xlink",
            '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="9" height="9"><image xlink:href="file:///etc/hostname"/></svg>',
        ),
        ("img svg http", f'<img src="{http}/a.svg" style="width:10px">'),
        ("base href", f'<base href="{http}/"><img src="x.png">'),
        ("meta refresh", f'<meta http-equiv="refresh" content="0;url={http}/r">'),
        ("huge css inline", f'<div style="{css_huge}">huge</div>'),
        ("huge font size", '<p style="font-size: 100000000px">x</p>'),
        (
            "huge spacing",
            '<p style="letter-spacing: 99999999px; word-spacing: 9999999999px">x y</p>',
        ),
        ("huge width only", '<div style="width: 99999999999px; height: 99999999999px">x</div>'),
        (
            "huge css page",
            "<style>@page { size: 100000cm 100000cm; margin: 99999cm } "
            f"body {{ {css_huge} }} td {{ padding: 999999999px }}</style>"
            "<table><tr><td>a</td><td>b</td></tr></table>",
        ),
        (
            "huge counters",
            "<style>li { counter-increment: n 2147483647 } li::before { content: counter(n) }</style><ol>"
            + "<li>x</li>" * 50
            + "</ol>",
        ),
        ("deep nesting", "<div>" * 400 + "deep" + "</div>" * 400),
        ("long unbroken text", "<p>" + "W" * 100_000 + "</p>"),
        ("many pages", "<style>p { page-break-after: always }</style>" + "<p>x</p>" * 200),
    ]


class RenderTimeout(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - only on a hung render
    raise RenderTimeout()


def render_with_limit(fn, limit: float = LIMIT_SECONDS) -> tuple[bytes | None, float, str]:
    """Run fn() with a hard SIGALRM guard; (pdf, seconds, error text).

    A BillingError (the renderer's readable refusal of out-of-range CSS) is returned as
    "refused: ..."; any other exception as its type and message."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(limit * 3))
    start = time.monotonic()
    try:
        pdf = fn()
        return pdf, time.monotonic() - start, ""
    except BillingError as exc:
        return None, time.monotonic() - start, f"refused: {exc}"
    except RenderTimeout:
        return None, time.monotonic() - start, "render did not finish (hard limit)"
    except Exception as exc:  # noqa: BLE001 - any exception is a violation
        return None, time.monotonic() - start, f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join((page.extract_text() or "") for page in reader.pages[:5])


def pdf_attachments(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return list(reader.attachments)


def check_render(log, listener, label, fn, *, may_refuse: bool = False) -> None:
    """One trial. `may_refuse`: raw hostile HTML may be refused with a BillingError (WeasyPrint
    cannot lay out font-size: 1e8px); template data (escaped) must always render."""
    log.trial()
    before = listener.connections
    with watching(FORBIDDEN) as watch:
        pdf, seconds, error = render_with_limit(fn)
    if error.startswith("refused: ") and may_refuse:
        log.notes.setdefault("refused", []).append(label)
    else:
        log.check(not error, f"{label}: render failed: {error}")
    log.check(seconds < LIMIT_SECONDS, f"{label}: took {seconds:.1f} s (limit {LIMIT_SECONDS} s)")
    time.sleep(0.05)  # let the listener thread count a late connection
    log.check(listener.connections == before, f"{label}: a connection reached 127.0.0.1")
    log.check(not watch.connects, f"{label}: socket connect attempted: {watch.connects}")
    log.check(not watch.opened, f"{label}: opened {watch.opened}")
    if pdf:
        log.check(pdf.startswith(b"%PDF-"), f"{label}: output is not a PDF")
        log.check(b"root:x:0:0" not in pdf, f"{label}: /etc/passwd content in the PDF bytes")
        log.check(not pdf_attachments(pdf), f"{label}: PDF has attachments {pdf_attachments(pdf)}")
        log.notes.setdefault("seconds", {})[label] = round(seconds, 2)


@pytest.fixture
def listener():
    server = CountingListener()
    yield server
    server.close()


def test_hostile_html_fetches_nothing_and_renders_in_time(trial_log, listener):
    payloads = hostile_payloads(listener.port)
    rounds = max(1, trial_count(1, 3))
    for _ in range(rounds):
        for label, body in payloads:
            html = f"<html><head><title>t</title></head><body><h1>Invoice</h1>{body}</body></html>"
            check_render(
                trial_log, listener, label, lambda html=html: html_to_pdf(html), may_refuse=True
            )
    trial_log.assert_clean()


def test_pdf_text_survives_and_secrets_do_not_appear(trial_log, listener):
    """The renderer keeps the document's own text while dropping the refused resources."""
    html = (
        f'<p>Invoice INV-2026-00001</p><img src="file:///etc/passwd">'
        f'<link rel="stylesheet" href="http://127.0.0.1:{listener.port}/x.css">'
    )
    trial_log.trial()
    with watching(FORBIDDEN) as watch:
        pdf, _, error = render_with_limit(lambda: html_to_pdf(html))
    assert not error
    text = pdf_text(pdf)
    trial_log.check("INV-2026-00001" in text, f"document text lost: {text!r}")
    trial_log.check("root:" not in text, "passwd text rendered")
    trial_log.check(
        listener.connections == 0 and not watch.connects and not watch.opened, "fetched something"
    )
    trial_log.assert_clean()


def test_template_context_with_hostile_values_is_escaped_and_fetches_nothing(
    trial_log, listener, tmp_path
):
    """Customer-controlled values passed through a template: escaped text, never markup."""
    from django.template import engines

    http = f"http://127.0.0.1:{listener.port}"
    values = [
        "file:///etc/passwd",
        f"{http}/steal",
        f'<img src="{http}/x.png">',
        '<img src="file:///etc/passwd">',
        f'"><link rel=stylesheet href="{http}/a.css">',
        f"</style><style>@import url({http}/b.css)</style>",
        "x" * 50_000,
        "width: 99999999999px",
    ]
    template = engines["django"].from_string(
        '<html><body><h1>{{ account }}</h1><p style="color: black">{{ note }}</p>'
        "<table>{% for v in values %}<tr><td>{{ v }}</td></tr>{% endfor %}</table></body></html>"
    )
    for value in values:
        html = template.render({"account": value, "note": value, "values": [value] * 3})
        check_render(
            trial_log, listener, f"context {value[:30]!r}", lambda html=html: html_to_pdf(html)
        )
    trial_log.assert_clean()


@pytest.mark.django_db
def test_invoice_pdf_template_with_hostile_data(trial_log, listener):
    """The real invoice template (invoicing.pdf.invoice_pdf) with hostile account and line text."""
    invoice_pdf = pytest.importorskip("invoicing.pdf").invoice_pdf
    from decimal import Decimal

    from tests.factories import AccountFactory, InvoiceFactory, InvoiceLineFactory

    http = f"http://127.0.0.1:{listener.port}"
    hostile = [
        "file:///etc/passwd",
        f'<img src="{http}/a.png"><link rel="stylesheet" href="{http}/b.css">',
        f"</style><style>@import url({http}/c.css); body{{width:99999999999px}}</style>",
        '<a rel="attachment" href="file:///etc/shadow">x</a>',
        '=HYPERLINK("http://127.0.0.1/")',
        "W" * 20_000,
    ]
    for i, text in enumerate(hostile):
        account = AccountFactory(external_id=f"HOST-{i}", name=text[:255], billing_email="")
        invoice = InvoiceFactory(account=account, po_number=text[:64])
        InvoiceLineFactory(
            invoice=invoice, description=text[:500], role=text[:100], amount=Decimal("1000.00")
        )
        check_render(
            trial_log, listener, f"invoice {text[:30]!r}", lambda inv=invoice: invoice_pdf(inv)
        )
    trial_log.assert_clean()


def test_render_pdf_uses_the_local_only_fetcher(trial_log, listener, settings, tmp_path):
    """render_pdf (template by name) goes through the same fetcher: a template dir outside
    templates/ cannot widen what the fetcher serves."""
    tpl_dir = tmp_path / "tpl"
    tpl_dir.mkdir()
    (tpl_dir / "evil.html").write_text(
        f'<img src="file:///etc/passwd"><img src="http://127.0.0.1:{listener.port}/x">'
        f'<img src="file://{tpl_dir}/secret.txt">{{{{ v }}}}'
    )
    (tpl_dir / "secret.txt").write_text("TOPSECRET")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tpl_dir, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    with watching((*FORBIDDEN, str(tpl_dir / "secret.txt"))) as watch:
        trial_log.trial()
        pdf, seconds, error = render_with_limit(lambda: render_pdf("evil.html", {"v": "ok"}))
    trial_log.check(not error, error)
    trial_log.check(listener.connections == 0, "connection reached the listener")
    trial_log.check(not watch.opened, f"opened {watch.opened}")
    trial_log.check(pdf is not None and b"TOPSECRET" not in pdf, "secret file embedded")
    trial_log.assert_clean()
