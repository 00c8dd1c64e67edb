"""Names and data shapes that cross process boundaries without being gRPC messages.

A service that starts or updates a workflow, the worker that runs it, the CLI that configures
service accounts and the charts that bootstrap them all import these, and nothing else of each
other. Standard library only, no I/O.
"""
