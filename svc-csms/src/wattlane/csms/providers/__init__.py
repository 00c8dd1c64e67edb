"""What the protocol layer needs from outside it, and the implementations of those needs.

`interfaces` (the `typing.Protocol`s and the value types they exchange: credentials, access
decisions, station events, the message log, the transaction store), `memory` (dict-backed
implementations for tests, the bench and the local demo), `assets` (station credentials and
access decisions from the assets service) and `access_cache` (decisions cached in front of any
access decider). The database-backed ones live in `registry/` and `transactions/`.
"""
