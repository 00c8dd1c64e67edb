"""The OCPP-J WebSocket side of the CSMS (1.6 and 2.0.1): what a station talks to.

`server` (listeners, the handshake and its security profiles), `connection` (one station's
socket: receive loop, replies, CSMS→station calls), `connected` (the stations connected to this
process), `frames` and `schemas` (the wire format and the official JSON schemas), `errors` (OCPP
error kinds per version), `handlers/` (one handler per station-initiated action, per version),
`meter` and `statuses` (OCPP meter values and connector statuses in the platform's terms),
`security` (TLS contexts, Basic auth), `clock` (OCPP time formatting), `options` and `runtime`
(tunables). It needs nothing from outside but the `providers` interfaces.
"""
