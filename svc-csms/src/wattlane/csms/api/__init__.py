"""gRPC servicers of the CSMS: proto ⇄ domain, nothing else.

One servicer module per API service (`stations`, `transactions`, `commands`, `internal`) and the
conversions they share (`station_views`, `transaction_views`, `command_convert`); the domain
modules they call never see a proto message.
"""
