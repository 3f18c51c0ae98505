"""Cell values as real exports write them -> the canonical text of SPEC 1.1-1.3 (SPEC 1.4 "Values").

Each ``normalize_<kind>(text, options)`` takes a trimmed, non-empty cell and returns the text the
importers' own parsers read (ISO dates, plain decimals with a point, ``H:MM:SS`` or decimal hours,
``yes``/``no``), or raises ``FieldError`` with a message a user can read. ``normalize(kind, ...)``
dispatches by the column kinds an importer declares (``KINDS``). Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from core.csvio import FieldError

DATE_ORDERS = ("mdy", "dmy", "ymd")
DECIMALS = ("point", "comma")
ORDER_WORDS = {"mdy": "month/day/year", "dmy": "day/month/year", "ymd": "year/month/day"}


@dataclass(frozen=True)
class ValueOptions:
    date_order: str = "mdy"
    decimal: str = "point"


# --- dates --------------------------------------------------------------------------------------

# ISO (also with one-digit month/day, as Tempo writes `2026-11-3`), optionally followed by a time.
_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.,]+(?:\s*[AP]M)?(?:Z|[+-]\d{2}:?\d{2})?)?", re.I
)
_OTHER = re.compile(
    r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})\.?(?:[T ,]+\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:\s*[AP]M)?)?",
    re.I,
)


def _real(year: int, month: int, day: int, two_digit: bool = False) -> dt.date | None:
    if two_digit:
        year += 2000  # SPEC 1.4: a two-digit year is 20YY
    if year < 1900:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _in_order(order: str, a: int, b: int, c: int, widths: tuple[int, int, int]) -> dt.date | None:
    if order == "ymd":
        return _real(a, b, c, widths[0] == 2) if widths[0] in (2, 4) else None
    if widths[2] not in (2, 4):
        return None
    if order == "mdy":
        return _real(c, a, b, widths[2] == 2)
    return _real(c, b, a, widths[2] == 2)


def normalize_date(text: str, options: ValueOptions) -> str:
    """ISO always; otherwise the date order; a date-time gives its date; 2-digit year = 20YY."""
    m = _ISO.fullmatch(text)
    if m:
        day = _real(int(m[1]), int(m[2]), int(m[3]))
        if day is None:
            raise FieldError(f"is not a real date, got {text!r}")
        return day.isoformat()
    m = _OTHER.fullmatch(text)
    if not m:
        raise FieldError(
            f"must be a date as YYYY-MM-DD or in {ORDER_WORDS[options.date_order]} order, "
            f"got {text!r}"
        )
    parts = (int(m[1]), int(m[3]), int(m[4]))
    widths = (len(m[1]), len(m[3]), len(m[4]))
    day = _in_order(options.date_order, *parts, widths)
    if day is not None:
        return day.isoformat()
    fits = [o for o in DATE_ORDERS if o != options.date_order and _in_order(o, *parts, widths)]
    if fits:
        raise FieldError(
            f"{text!r} is not a date in {ORDER_WORDS[options.date_order]} order; it fits "
            f"{ORDER_WORDS[fits[0]]}: import with --date-order {fits[0]}"
        )
    raise FieldError(f"is not a real date, got {text!r}")


def is_ambiguous_date(text: str) -> bool:
    """A non-ISO date that reads as a real date in more than one order (03/11/2026)."""
    m = _OTHER.fullmatch(text)
    if not m or len(m[1]) == 4:
        return False
    parts, widths = (int(m[1]), int(m[3]), int(m[4])), (len(m[1]), len(m[3]), len(m[4]))
    days = {_in_order(o, *parts, widths) for o in ("mdy", "dmy")}
    return None not in days and len(days) == 2


_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?\s*([AP]M)?", re.I)


def normalize_time(text: str, options: ValueOptions) -> str:
    """A clock time (``09:00``, ``10:23:52 AM``, or a date-time) -> ``HH:MM:SS``."""
    m = _TIME.search(text)
    if not m:
        raise FieldError(f"must be a time such as 09:30 or 09:30:00 AM, got {text!r}")
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    if m[4]:
        if not 1 <= hour <= 12:
            raise FieldError(f"is not a real time, got {text!r}")
        hour = hour % 12 + (12 if m[4].upper() == "PM" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise FieldError(f"is not a real time, got {text!r}")
    return f"{hour:02d}:{minute:02d}:{second:02d}"


def normalize_start(text: str, options: ValueOptions) -> str:
    """The start time inside a time or date-time cell, or "" when it has none (derived keys)."""
    return normalize_time(text, options) if _TIME.search(text) else ""


# --- numbers ------------------------------------------------------------------------------------

_PLAIN = {
    "point": re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)"),
    "comma": re.compile(r"[+-]?(\d+(,\d*)?|,\d+)"),
}
_GROUPED = {
    "point": re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?"),
    "comma": re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d*)?"),
}
_SPACES = re.compile(r"[\s\u00a0\u202f']")  # spaces, no-break spaces and Swiss apostrophes group
_SCIENTIFIC = re.compile(r"[+-]?\d+([.,]\d+)?[eE][+-]?\d+")
# Currency signs and ISO codes around a money value: "$1,500.00", "1.500,00 €", "USD 12", "12 EUR".
_CURRENCY = re.compile(r"^(?:[A-Z]{3}|[$€£¥₹₣])\s*|\s*(?:[A-Z]{3}|[$€£¥₹₣])$")


def normalize_number(text: str, options: ValueOptions) -> str:
    """A number in the import's decimal convention -> a plain decimal with a point."""
    mark = options.decimal
    compact = _SPACES.sub("", text)
    if _PLAIN[mark].fullmatch(compact):
        return compact.replace(",", ".") if mark == "comma" else compact
    if _GROUPED[mark].fullmatch(compact):
        return (
            compact.replace(".", "").replace(",", ".")
            if mark == "comma"
            else compact.replace(",", "")
        )
    if _SCIENTIFIC.fullmatch(compact):
        raise FieldError(f"must be a plain number, not scientific notation, got {text!r}")
    other = "comma" if mark == "point" else "point"
    if _PLAIN[other].fullmatch(compact) or _GROUPED[other].fullmatch(compact):
        raise FieldError(
            f"must be a number with a decimal {'point' if mark == 'point' else 'comma'}, got "
            f"{text!r}; if the file writes decimal {other}s, import with --decimal {other}"
        )
    raise FieldError(f"must be a number, got {text!r}")


def normalize_percent(text: str, options: ValueOptions) -> str:
    return normalize_number(text.rstrip("%").strip(), options)


def normalize_money(text: str, options: ValueOptions) -> str:
    """Money: currency signs and ISO codes ignored, at most 2 decimals (this catches ``1.500``)."""
    value = text
    for _ in range(2):
        value = _CURRENCY.sub("", value).strip()
    negative = value.startswith("(") and value.endswith(")")
    if negative:
        value = "-" + value[1:-1].strip()
    plain = normalize_number(value, options)
    decimals = plain.split(".", 1)[1] if "." in plain else ""
    if len(decimals) > 2:
        hint = (
            "; if it is a European amount with a thousands dot, import with --decimal comma"
            if options.decimal == "point"
            else ""
        )
        raise FieldError(f"has more than 2 decimal places, got {text!r}{hint}")
    return plain


# --- durations ----------------------------------------------------------------------------------

_CLOCK = re.compile(r"(\d+):([0-5]\d)(?::([0-5]\d))?")


def normalize_duration(text: str, options: ValueOptions) -> str:
    """Decimal hours (``1.5``, ``1,5`` with --decimal comma) or ``H:MM`` / ``H:MM:SS``."""
    if _CLOCK.fullmatch(text):
        return text
    return normalize_number(text, options)


def normalize_seconds(text: str, options: ValueOptions) -> str:
    """A duration written in whole seconds (Kimai) -> ``H:MM:SS``."""
    if _CLOCK.fullmatch(text):
        return text
    if not re.fullmatch(r"\d+", text):
        raise FieldError(f"must be a duration in whole seconds, got {text!r}")
    seconds = int(text)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# --- booleans and IDs ---------------------------------------------------------------------------

TRUE_WORDS = frozenset("yes y true 1 ja j wahr oui vrai si sí x".split())
FALSE_WORDS = frozenset("no n false 0 nein falsch non faux".split())


def normalize_bool(text: str, options: ValueOptions) -> str:
    word = text.lower()
    if word in TRUE_WORDS:
        return "yes"
    if word in FALSE_WORDS:
        return "no"
    raise FieldError(
        f"must be yes/no, y/n, true/false or 1/0 (also Ja/Nein, Oui/Non), got {text!r}"
    )


def normalize_positive(text: str, options: ValueOptions) -> str:
    """A number read as a boolean: more than 0 is yes (Tempo's Billed Hours)."""
    return "yes" if Decimal(normalize_duration_hours(text, options)) > 0 else "no"


def normalize_duration_hours(text: str, options: ValueOptions) -> str:
    m = _CLOCK.fullmatch(text)
    if m:
        return str(int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0))
    return normalize_number(text, options)


def normalize_id(text: str, options: ValueOptions) -> str:
    """An external key: refused when Excel has turned it into scientific notation."""
    if _SCIENTIFIC.fullmatch(text.replace(" ", "")):
        raise FieldError(f"Excel changed this ID ({text}); export IDs as text")
    return text


def normalize_text(text: str, options: ValueOptions) -> str:
    return text


def _normalize_list(text: str, options: ValueOptions, part: Callable[[str], str]) -> str:
    return "; ".join(part(p.strip()) for p in text.split(";") if p.strip())


def normalize_rate_card(text: str, options: ValueOptions) -> str:
    """``Engineer=150,50; PM=175`` -> rates normalized as money, roles untouched."""

    def one(piece: str) -> str:
        role, sep, rate = piece.partition("=")
        try:
            return f"{role.strip()}={normalize_money(rate.strip(), options)}" if sep else piece
        except FieldError:
            return piece  # the importer explains it, naming the role

    return _normalize_list(text, options, one)


def normalize_milestones(text: str, options: ValueOptions) -> str:
    """``Name:Percent[:Date]`` with the percent and date in the import's conventions."""

    def one(piece: str) -> str:
        bits = [b.strip() for b in piece.split(":")]
        if len(bits) not in (2, 3) or not bits[1]:
            return piece
        try:
            bits[1] = normalize_percent(bits[1], options)
            if len(bits) == 3 and bits[2]:
                bits[2] = normalize_date(bits[2], options)
        except FieldError:
            return piece  # the importer explains it, naming the milestone
        return ":".join(bits)

    return _normalize_list(text, options, one)


KINDS: dict[str, Callable[[str, ValueOptions], str]] = {
    "text": normalize_text,
    "id": normalize_id,
    "date": normalize_date,
    "time": normalize_time,
    "start": normalize_start,
    "number": normalize_number,
    "percent": normalize_percent,
    "money": normalize_money,
    "duration": normalize_duration,
    "seconds": normalize_seconds,
    "bool": normalize_bool,
    "positive": normalize_positive,
    "rate_card": normalize_rate_card,
    "milestones": normalize_milestones,
}


def normalize(kind: str, text: str, options: ValueOptions) -> str:
    return KINDS[kind](text, options)
