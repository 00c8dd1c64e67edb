"""Account plans (tiers) and sectors: the catalogs account fields are checked against."""

from __future__ import annotations

# id -> (display name, description)
PLANS: dict[str, tuple[str, str]] = {
    "starter": ("Starter", "Charging management for a few charging points"),
    "business": ("Business", "Charging management, load management and reporting for companies"),
    "enterprise": ("Enterprise", "Everything, with split billing, roaming and priority support"),
}

SECTORS = (
    "residential",
    "commercial",
    "logistics",
    "hospitality",
    "public",
    "healthcare",
    "education",
    "industry",
    "other",
)

MIN_DATAPOINTS = 20
MAX_DATAPOINTS = 1_000_000
DEFAULT_PERIOD_MONTHS = 12
MAX_PERIOD_MONTHS = 120
RTC_COUNTRY = "ES"  # remote-reading (RTC) lines exist only in Spain
