"""Remote actions on stations (reset, remote start, charging limits...): commands stored before
they are sent and finished with the station's answer.

`remote_actions` (an action in OCPP terms for the station's version, and the answer read as a
final state), `runner` (sending stored commands through this process's sockets, forwarding them
to the process that holds the socket) and `retention` (purging finished commands).
"""
