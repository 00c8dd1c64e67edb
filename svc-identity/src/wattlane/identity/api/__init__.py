"""gRPC servicers of identity: proto ↔ domain, nothing else."""
