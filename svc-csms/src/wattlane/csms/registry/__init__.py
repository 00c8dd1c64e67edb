"""The persistent station registry and message log, in the CSMS database.

`stations` (what the protocol layer reports about stations, written behind the replies),
`leases` (which CSMS process is alive and holds which station), `messagelog` and `logstore` (the
station message log, batched into the database), `writebehind` (the batching both share),
`visibility` (which stations, log lines and unclaimed attempts a caller may see) and
`repository` (their SQL).
"""
