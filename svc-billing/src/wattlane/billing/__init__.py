"""Wattlane billing: tariffs in the OCPI 2.2.1 shape (versioned), the one pure pricing function,
sealed charge records.

`wattlane.billing.pricing.price` gives the running cost, the final cost and the charge record's
figures from a tariff version, a session's meter data and the location's IANA time zone
(BILLING.md). The pricing domain (tariffs, plans, periods, sessions, wall_clock, pricing,
currencies, errors, documents) is pure: the standard library only, no I/O. The service around it
is wired in `main.py` on core's skeleton: `catalog` (tariffs and their versions), `charge_records`,
`recording` (RecordCharge), `api/` (gRPC servicers, proto <-> domain)."""
