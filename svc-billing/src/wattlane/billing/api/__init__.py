"""Billing's gRPC servicers and the proto <-> domain conversions (domain modules never see proto
types)."""
