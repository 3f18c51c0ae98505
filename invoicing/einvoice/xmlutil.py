"""Small helpers shared by the UBL and CII writers: number formats and element building."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from core.money import round_money


def amount(value: Decimal) -> str:
    """Money with 2 places ('1234.50'); EN 16931 amounts have at most 2 decimals."""
    return f"{round_money(value):.2f}"


def number(value: Decimal) -> str:
    """A quantity, price or percent without trailing zeros ('14.25', '150', '8.875')."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    """Append `tag` (Clark notation, '{ns}name') with optional text and attributes."""
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
