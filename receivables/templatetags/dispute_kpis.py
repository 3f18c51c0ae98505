"""`{% dispute_kpis %}`: the dispute KPI tiles (open count, median resolution time, share within
SLA, credited amount by category; receivables.selectors.dispute_kpis) on any finance page, for
a user who may see disputes. The page's view needs no change."""

from __future__ import annotations

from typing import Any

from django import template

from core.roles import has_capability
from receivables.selectors import dispute_kpis as kpis_of

register = template.Library()


@register.inclusion_tag("receivables/_dispute_kpis.html", takes_context=True)
def dispute_kpis(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not has_capability(user, "disputes.view"):
        return {"kpis": None}
    return {"kpis": kpis_of(), "link": True}
