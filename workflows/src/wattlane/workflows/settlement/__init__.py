"""The monthly settlement: one workflow per (issuer, month) fanning out a child per chunk of
recipients, each invoiced once by billing."""
