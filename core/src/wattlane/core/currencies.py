"""ISO 4217 currencies a tariff may be in, with their minor units (digits after the point).

Pricing keeps full precision; the minor unit is what an invoice line is rounded to later. The
list holds the active currencies (not funds, metals or testing codes) and the ones withdrawn
recently enough that a stored tariff version may still be in them (ANG, BGN, SLL, ZWL)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD "
    "MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP "
    "PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB "
    "TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)

MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {
        **dict.fromkeys(_TWO.split(), 2),
        **dict.fromkeys(_ZERO.split(), 0),
        **dict.fromkeys(_THREE.split(), 3),
    }
)


def minor_units(currency: str) -> int:
    """How many digits a currency's minor unit has (2 unless ISO 4217 says otherwise)."""
    return MINOR_UNITS.get(currency, 2)


def is_currency(code: str) -> bool:
    """Whether `code` is an ISO 4217 currency a tariff may be in (upper case, e.g. EUR)."""
    return code in MINOR_UNITS
