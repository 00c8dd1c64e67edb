"""Remote actions on stations (reset, remote start, charging limits...): commands stored before
they are sent and finished with the station's answer.

`actions` (what can be asked of a station, as value types), `remote_actions` (an action in OCPP
terms for the station's version), `states` (a command's states, and the station's answer read as
one), `runner` (storing commands, sending them through this process's sockets or handing them to
the process that holds the socket), `peers` (the other CSMS processes over internal gRPC),
`visibility` (which commands a caller may see), `retention` (purging finished commands) and
`repository` (their SQL).
"""
