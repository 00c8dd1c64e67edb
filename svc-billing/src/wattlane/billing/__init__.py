"""Wattlane billing: tariffs in the OCPI 2.2.1 shape and the one pure pricing function.

`wattlane.billing.pricing.price` gives the running cost, the final cost and the charge record's
figures from a tariff version, a session's meter data and the location's IANA time zone
(BILLING.md). Everything here is pure: the standard library only, no I/O."""
