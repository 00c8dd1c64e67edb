"""Transactions and their meter values, and their handoff to billing.

`store` (the database `TransactionStore`: changes committed before the station's reply),
`handoff` (the outbox relay that starts one billing workflow per completed transaction, and the
record of its deliveries), `visibility` (which transactions a caller may see) and `repository`
(their SQL).
"""
