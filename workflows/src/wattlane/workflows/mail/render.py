"""Rendering a mail from a template in the recipient's locale, under a brand."""

from __future__ import annotations

import html
import string
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from importlib import resources
from typing import Any

from wattlane.workflows.mail.brands import Brand

DEFAULT_LOCALE = "en"

# Words that appear in mails as values, per language.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "CREATE_ACCOUNT": "new account",
        "CHANGE_DATAPOINTS": "datapoint change",
        "CHANGE_PLAN": "plan change",
        "EXTEND": "extension",
        "RENEW": "renewal",
        "ACTIVE": "active",
        "PENDING": "pending",
        "EXPIRED": "expired",
        "REJECTED": "rejected",
    },
    "nl": {
        "CREATE_ACCOUNT": "nieuw account",
        "CHANGE_DATAPOINTS": "wijziging datapunten",
        "CHANGE_PLAN": "planwijziging",
        "EXTEND": "verlenging van de looptijd",
        "RENEW": "vernieuwing",
        "ACTIVE": "actief",
        "PENDING": "in behandeling",
        "EXPIRED": "verlopen",
        "REJECTED": "afgewezen",
    },
}


def available_locales() -> list[str]:
    root = resources.files("wattlane.workflows.mail") / "templates"
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def _template(template: str, locale: str) -> tuple[str, str]:
    """(subject, body) of a template; falls back from `nl-BE` to `nl` to English."""
    root = resources.files("wattlane.workflows.mail") / "templates"
    for candidate in (locale, locale.split("-")[0], DEFAULT_LOCALE):
        path = root / candidate / f"{template}.txt"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            first, _, body = text.partition("\n")
            if not first.startswith("Subject: "):
                raise ValueError(f"{candidate}/{template}.txt must start with 'Subject: '")
            return first.removeprefix("Subject: "), body.lstrip("\n")
    raise LookupError(f"no mail template {template!r}")


def render(
    template: str,
    locale: str,
    brand: Brand,
    to_email: str,
    to_name: str,
    values: dict[str, Any],
    message_key: str,
) -> EmailMessage:
    """A complete message: From the brand's domain, plain text and a branded HTML part.
    The Message-ID derives from the notification key, so duplicates are recognizable."""
    subject_t, body_t = _template(template, locale)
    labels = LABELS.get(locale.split("-")[0], LABELS[DEFAULT_LOCALE])
    fields = {k: labels.get(str(v), str(v)) for k, v in values.items()} | {
        "brand": brand.name,
        "name": to_name,
    }
    subject = string.Template(subject_t).safe_substitute(fields)
    body = string.Template(body_t).safe_substitute(fields)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((brand.name, f"noreply@{brand.mail_domain}"))
    message["To"] = formataddr((to_name, to_email))
    message["Message-ID"] = make_msgid(idstring=message_key.replace("/", ".")[:120], domain=brand.mail_domain)
    message["Content-Language"] = locale
    message["X-Wattlane-Template"] = template
    message.set_content(body)
    logo = f'<img src="{html.escape(brand.logo_url)}" alt="" height="32"><br>' if brand.logo_url else ""
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in body.split("\n\n"))
    color = html.escape(brand.primary_color)
    message.add_alternative(
        f'<div style="font-family:sans-serif"><div style="border-top:4px solid {color};padding-top:8px">'
        f"{logo}<strong>{html.escape(brand.name)}</strong></div>{paragraphs}</div>",
        subtype="html",
    )
    return message
