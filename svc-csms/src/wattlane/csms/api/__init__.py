"""gRPC servicers of the CSMS (proto <-> domain, nothing else)."""
