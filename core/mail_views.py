"""The shared mail preview (every outgoing message is seen before it leaves) and the template
editor (billing admins edit subject and body per kind and reminder level)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_http_methods

from core import mail
from core.errors import BillingError
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


def _levels() -> list[int]:
    from django.conf import settings

    return sorted({int(level) for level in settings.BILLING_DUNNING_DAYS if int(level) >= 0})


def _slots() -> list[tuple[str, int, str]]:
    slots = [(k, 0, label) for k, label in MailTemplate.Kind.choices if k != "reminder"]
    slots += [("reminder", lvl, f"Reminder at {lvl} day{pluralize(lvl)}") for lvl in _levels()]
    return slots


@require_GET
@require("mail.templates")
def template_list(request: HttpRequest) -> HttpResponse:
    edited = {(t.kind, t.level): t for t in MailTemplate.objects.select_related("updated_by")}
    rows = [
        {
            "kind": k,
            "level": lvl,
            "label": label,
            "edited": edited.get((k, lvl)),
            "subject": mail.template_for(k, lvl)[0],
        }
        for k, lvl, label in _slots()
    ]
    return render(request, "core/mail_templates.html", {"rows": rows})


class TemplateForm(forms.Form):
    subject = forms.CharField(max_length=300, widget=forms.TextInput({"size": 80}))
    body = forms.CharField(widget=forms.Textarea({"rows": 14, "cols": 80}))


@require_http_methods(["GET", "POST"])
@require("mail.templates")
def template_edit(request: HttpRequest, kind: str, level: int) -> HttpResponse:
    if (kind, level) not in {(k, lvl) for k, lvl, _ in _slots()}:
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
            messages.success(request, "Template saved; the next message of this kind uses it.")
            return redirect("mail_templates")
    return render(
        request,
        "core/mail_template_edit.html",
        {"form": form, "kind": kind, "level": level, "placeholders": mail.PLACEHOLDERS[kind]},
    )
