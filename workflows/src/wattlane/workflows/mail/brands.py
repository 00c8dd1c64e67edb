"""The brand a mail goes out under: the partner's name, mail domain, color and logo, as identity
answers them (its mail context and prepared user mails carry the same four fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

DEFAULT_COLOR = "#0b6e4f"


@dataclass(frozen=True)
class Brand:
    name: str
    mail_domain: str
    primary_color: str = DEFAULT_COLOR
    logo_url: str = ""


class BrandFields(Protocol):
    """The brand fields of identity's answers (`MailContext`, `PrepareUserMailResponse`)."""

    @property
    def brand_name(self) -> str: ...

    @property
    def mail_domain(self) -> str: ...

    @property
    def primary_color(self) -> str: ...

    @property
    def logo_url(self) -> str: ...


def brand_of(answer: BrandFields) -> Brand:
    """The Brand of an identity answer; an unset color is the default one."""
    color = answer.primary_color or DEFAULT_COLOR
    return Brand(answer.brand_name, answer.mail_domain, color, answer.logo_url)
