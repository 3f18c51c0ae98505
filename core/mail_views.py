"""The shared mail preview (every outgoing message is seen before it leaves) and the template
pages (billing admins see, edit and approve subject and body per kind and reminder level; an
edit by a billing admin is also their approval)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import mail
from core.errors import BillingError, flash_outcome
from core.models import MailTemplate, SentMail
from core.roles import require


def preview_or_send(
    request: HttpRequest,
    *,
    build: Callable[..., mail.Draft],
    send: Callable[..., Any],
    contacts: list[str],
    heading: str,
    send_label: str,
    back_url: str,
    back_label: str,
    sent: Any,
    done: Callable[[Any], str],
) -> HttpResponse:
    """GET: the message as it would go out (To/CC editable). POST: send it to the To/CC given."""
    problem = ""
    draft = None
    if request.method == "POST":
        try:
            to = mail.parse_addresses(request.POST.get("to", ""))
            cc = mail.parse_addresses(request.POST.get("cc", ""), label="CC", required=False)
            result = send(to=to, cc=cc)
        except BillingError as exc:
            problem = str(exc)
        else:
            messages.success(request, done(result))
            return redirect(back_url)
    try:
        draft = build()
        if request.method == "POST":
            draft.to = [a.strip() for a in request.POST.get("to", "").split(",") if a.strip()]
            draft.cc = [a.strip() for a in request.POST.get("cc", "").split(",") if a.strip()]
    except BillingError as exc:
        problem = problem or str(exc)
    return render(
        request,
        "core/mail_preview.html",
        {
            "draft": draft,
            "problem": problem,
            "contacts": contacts,
            "heading": heading,
            "send_label": send_label,
            "back_url": back_url,
            "back_label": back_label,
            "sent": list(sent),
        },
        status=400 if problem and request.method == "POST" else 200,
    )


def sent_for(**filters: Any):
    return SentMail.objects.filter(**filters).select_related("sent_by").order_by("-sent_at", "-id")


# --- templates ------------------------------------------------------------------------------------


def _template_rows() -> list[dict[str, Any]]:
    rows_by_slot = {
        (t.kind, t.level): t
        for t in MailTemplate.objects.select_related("updated_by", "approved_by")
    }
    rows = []
    for kind, level, label in mail.template_slots():
        row = rows_by_slot.get((kind, level))
        subject, body = (row.subject, row.body) if row else mail.default_for(kind, level)
        rows.append(
            {
                "kind": kind,
                "level": level,
                "label": label,
                "row": row,
                "edited": row if row and row.updated_by_id else None,
                "approved": row if row and row.is_approved else None,
                "subject": subject,
                "body": body,
                "digest": mail.text_digest(subject, body),
            }
        )
    return rows


@require_GET
@require("mail.templates")
def template_list(request: HttpRequest) -> HttpResponse:
    rows = _template_rows()
    waiting = sum(1 for r in rows if not r["approved"])
    return render(request, "core/mail_templates.html", {"rows": rows, "waiting": waiting})


class TemplateForm(forms.Form):
    subject = forms.CharField(max_length=300, widget=forms.TextInput({"size": 80}))
    body = forms.CharField(widget=forms.Textarea({"rows": 14, "cols": 80}))


@require_POST
@require("mail.templates")
def template_approve(request: HttpRequest, kind: str, level: int) -> HttpResponse:
    """Approve the text shown (the templates page or the editor carries its digest)."""
    row = flash_outcome(
        request,
        lambda: mail.mail_template_approve(
            kind=kind, level=level, user=request.user, digest=request.POST.get("digest", "")
        ),
        lambda row: (
            f"{mail.slot_label(kind, level)} template approved; messages of this kind "
            "that were held go out with the next run."
        ),
    )
    if row is None:
        return redirect("mail_templates")
    return redirect(f"{reverse('mail_templates')}#t-{row.kind}-{row.level}")


@require_http_methods(["GET", "POST"])
@require("mail.templates")
def template_edit(request: HttpRequest, kind: str, level: int) -> HttpResponse:
    if (kind, level) not in {(k, lvl) for k, lvl, _ in mail.template_slots()}:
        raise Http404("No such mail template.")
    subject, body = mail.template_for(kind, level)
    form = TemplateForm(request.POST or None, initial={"subject": subject, "body": body})
    if request.method == "POST" and form.is_valid():
        try:
            mail.mail_template_save(
                kind=kind,
                level=level,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                user=request.user,
            )
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, "Template saved and approved; the next message of this kind uses it."
            )
            return redirect("mail_templates")
    row = MailTemplate.objects.filter(kind=kind, level=level).first()
    history = (
        row.history.select_related("history_user").order_by("-history_date")[:20] if row else []
    )
    return render(
        request,
        "core/mail_template_edit.html",
        {
            "form": form,
            "kind": kind,
            "level": level,
            "label": mail.slot_label(kind, level),
            "row": row,
            "digest": mail.text_digest(subject, body),
            "history": history,
            "placeholders": mail.PLACEHOLDERS[kind],
        },
    )
