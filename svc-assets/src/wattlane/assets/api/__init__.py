"""gRPC servicers of assets: proto <-> domain, nothing else."""
