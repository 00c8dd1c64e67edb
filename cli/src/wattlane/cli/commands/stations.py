"""wattlane stations list | show | log: the CSMS's view of charging stations; and the remote
actions: status | reset | unlock | start | stop | availability | config | variables | firmware |
diagnostics | limit, with `commands` to list what was sent. An action prints the command's final
state and exits 2 when the station did not accept it (rejected, timed out, failed).

The CSMS address is the one stored by `wattlane login` (WATTLANE_CSMS_ADDRESS overrides it)."""

from __future__ import annotations

import argparse
import json

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.csms.v1 import commands_pb2, stations_pb2
from wattlane.cli.clients import csms_client
from wattlane.cli.output import as_json, output_flags, table
from wattlane.cli.session import Session
from wattlane.core.clients.identity import IdentityClient

S = stations_pb2
C = commands_pb2
# CreateCommand waits for the station's answer (the CSMS gives up after 30 s by default).
ACTION_DEADLINE = 60.0
_PAYLOAD_WIDTH = 90


def _time(value: Timestamp) -> str:
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if value.seconds else "-"


def _status(value: S.StationStatus.ValueType) -> str:
    return S.StationStatus.Name(value).removeprefix("STATION_STATUS_").lower()


def _station_name(value: str) -> str:
    return value if value.startswith("stations/") else f"stations/{value}"


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    csms = csms_client(session)
    stations: list[S.Station] = []
    token = ""
    try:
        while True:
            page = await csms.stations.ListStations(
                S.ListStationsRequest(filter=args.filter or "", page_size=500, page_token=token)
            )
            stations.extend(page.stations)
            token = page.next_page_token
            if not token:
                break
    finally:
        await csms.close()
    if args.json:
        print(as_json(stations))
        return
    rows = [
        (
            s.identity,
            S.Station.Connectivity.Name(s.connectivity).lower(),
            _status(s.status),
            s.protocol,
            f"{s.boot.vendor} {s.boot.model}".strip() or "-",
            _time(s.last_seen_time),
            s.owner or "-",
        )
        for s in stations
    ]
    print(
        table(["identity", "connectivity", "status", "protocol", "model", "last seen (UTC)", "owner"], rows)
    )


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    csms = csms_client(session)
    try:
        station = await csms.stations.GetStation(S.GetStationRequest(name=_station_name(args.identity)))
    finally:
        await csms.close()
    if args.json:
        print(as_json(station))
        return
    print(
        f"{station.identity}: {S.Station.Connectivity.Name(station.connectivity).lower()}, "
        f"{_status(station.status)}, {station.protocol or '-'}, owner {station.owner or '-'}"
    )
    print(
        f"  connected since {_time(station.connect_time)} via {station.connected_process or '-'} "
        f"from {station.remote_address or '-'}; last seen {_time(station.last_seen_time)}"
    )
    if station.HasField("boot"):
        boot = station.boot
        state = "accepted" if boot.accepted else "pending"
        print(
            f"  booted {_time(boot.boot_time)}: {boot.vendor} {boot.model}, "
            f"serial {boot.serial_number or '-'}, firmware {boot.firmware_version or '-'} ({state})"
        )
    if station.connectors:
        print(
            table(
                ["evse", "connector", "status", "ocpp status", "error", "since (UTC)"],
                [
                    (
                        c.evse_id,
                        c.connector_id,
                        _status(c.status),
                        c.ocpp_status,
                        c.error_code or "-",
                        _time(c.update_time),
                    )
                    for c in station.connectors
                ],
            )
        )


async def log(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    clauses = []
    if args.action:
        clauses.append(f'action = "{args.action}"')
    if args.errors:
        clauses.append("error = true")
    if args.since:
        clauses.append(f'time >= "{args.since}"')
    if args.filter:
        clauses.append(f"({args.filter})")
    csms = csms_client(session)
    try:
        page = await csms.stations.ListStationMessages(
            S.ListStationMessagesRequest(
                parent=_station_name(args.identity) if args.identity else "stations/-",
                filter=" AND ".join(clauses),
                page_size=args.limit,
            )
        )
    finally:
        await csms.close()
    if args.json:
        print(as_json(list(page.messages)))
        return
    rows = []
    for m in page.messages:
        body = (
            f"{m.error_code}: {m.error_description}"
            if m.error
            # As the station sent it: `payload` (a protobuf Value) would show 1 as 1.0.
            else m.payload_json or json.dumps(MessageToDict(m.payload), separators=(",", ":"))
        )
        rows.append(
            (
                m.time.ToDatetime().strftime("%H:%M:%S.%f")[:-3],
                m.identity,
                S.StationMessage.Direction.Name(m.direction).lower(),
                {2: "call", 3: "result", 4: "error", 0: "bad frame"}.get(m.message_type, str(m.message_type)),
                m.action or "-",
                m.message_id[:12],
                body[:_PAYLOAD_WIDTH],
            )
        )
    print(table(["time (UTC)", "station", "dir", "type", "action", "id", "payload / error"], rows))
    if page.next_page_token:
        print(f"(newest {len(page.messages)} shown; --limit for more)")


# -- remote actions -----------------------------------------------------------------------------


def _target(args: argparse.Namespace) -> C.Target:
    return C.Target(evse_id=args.evse or 0, connector_id=args.connector or 0)


def _variable(text: str) -> C.VariableRef:
    component, _, variable = text.partition(".")
    return C.VariableRef(component=component, variable=variable)


def _config(args: argparse.Namespace) -> C.Command:
    changes = [item for item in args.keys if "=" in item]
    if changes:
        if len(changes) > 1 or len(args.keys) > 1:
            raise SystemExit("config: change one KEY=VALUE at a time")
        key, _, value = changes[0].partition("=")
        return C.Command(change_configuration=C.ChangeConfiguration(key=key, value=value))
    return C.Command(get_configuration=C.GetConfiguration(keys=args.keys))


def _variables(args: argparse.Namespace) -> C.Command:
    if any("=" in item for item in args.variables):
        values = []
        for item in args.variables:
            name, _, value = item.partition("=")
            values.append(C.VariableValue(variable=_variable(name), value=value))
        return C.Command(set_variables=C.SetVariables(values=values))
    return C.Command(get_variables=C.GetVariables(variables=[_variable(v) for v in args.variables]))


def _limit(args: argparse.Namespace) -> C.Command:
    if args.watts == "clear":
        return C.Command(clear_charging_limit=C.ClearChargingLimit(target=_target(args)))
    try:
        watts = int(args.watts)
    except ValueError:
        raise SystemExit("limit: WATTS is a whole number of watts, or `clear`") from None
    return C.Command(set_charging_limit=C.SetChargingLimit(target=_target(args), limit_w=watts))


def _firmware(args: argparse.Namespace) -> C.Command:
    firmware = C.UpdateFirmware(location=args.url)
    if args.at:
        firmware.retrieve_time.FromJsonString(args.at)
    return C.Command(update_firmware=firmware)


ACTIONS = {
    "status": lambda a: C.Command(trigger_message=C.TriggerMessage(message=a.message, target=_target(a))),
    "reset": lambda a: C.Command(reset=C.Reset(hard=a.hard)),
    "unlock": lambda a: C.Command(unlock_connector=C.UnlockConnector(target=_target(a))),
    "start": lambda a: C.Command(remote_start=C.RemoteStart(id_tag=a.card, target=_target(a))),
    "stop": lambda a: C.Command(remote_stop=C.RemoteStop(transaction_id=a.transaction)),
    "availability": lambda a: C.Command(
        change_availability=C.ChangeAvailability(target=_target(a), operative=a.state == "on")
    ),
    "config": _config,
    "variables": _variables,
    "firmware": _firmware,
    "diagnostics": lambda a: C.Command(get_diagnostics=C.GetDiagnostics(location=a.url)),
    "limit": _limit,
}


def _describe(command: C.Command) -> str:
    state = C.Command.State.Name(command.state).lower()
    status = f" ({command.station_status})" if command.station_status else ""
    error = f": {command.error}" if command.error else ""
    return f"{command.name}: {command.ocpp_action} {state}{status}{error}"


async def remote_action(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    command = ACTIONS[args.action](args)
    csms = csms_client(session)
    try:
        done = await csms.commands.CreateCommand(
            C.CreateCommandRequest(
                parent=_station_name(args.identity), command=command, request_id=args.request_id or ""
            ),
            timeout=ACTION_DEADLINE,
        )
    finally:
        await csms.close()
    if args.json:
        print(as_json(done))
    else:
        print(_describe(done))
        if done.station_answer.fields and done.ocpp_action in ("GetConfiguration", "GetVariables"):
            print(json.dumps(MessageToDict(done.station_answer), indent=2))
    if done.state != C.Command.ACCEPTED:
        raise SystemExit(2)


async def commands(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    csms = csms_client(session)
    try:
        page = await csms.commands.ListCommands(
            C.ListCommandsRequest(
                parent=_station_name(args.identity) if args.identity else "stations/-",
                filter=args.filter or "",
                page_size=args.limit,
            )
        )
    finally:
        await csms.close()
    if args.json:
        print(as_json(list(page.commands)))
        return
    rows = [
        (
            _time(c.create_time),
            c.name.split("/")[1],
            c.ocpp_action,
            C.Command.State.Name(c.state).lower(),
            c.station_status or "-",
            c.requested_by,
            c.error[:60] or "-",
        )
        for c in page.commands
    ]
    print(table(["created (UTC)", "station", "action", "state", "answer", "by", "error"], rows))


def _action_parser(
    group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_: str, *, where: bool = False
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = group.add_parser(name, help=help_)
    p.add_argument("identity", help="the station's OCPP identity (or stations/IDENTITY)")
    if where:
        p.add_argument("--connector", type=int, help="connector (1.6; or within the EVSE on 2.0.1)")
        p.add_argument("--evse", type=int, help="EVSE (2.0.1)")
    p.add_argument("--request-id", help="idempotency key: a retry with the same key is not sent twice")
    output_flags(p)
    p.set_defaults(handler=remote_action)
    return p


def _register_actions(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _action_parser(group, "status", "ask the station to send a message (TriggerMessage)", where=True)
    p.add_argument("--message", default="StatusNotification", help="default StatusNotification")
    p = _action_parser(group, "reset", "soft reset (--hard: hard / immediate)")
    p.add_argument("--hard", action="store_true")
    _action_parser(group, "unlock", "unlock a connector", where=True)
    p = _action_parser(group, "start", "remote start a charging session", where=True)
    p.add_argument("--card", required=True, help="the card UID (id tag)")
    p = _action_parser(group, "stop", "remote stop a charging session")
    p.add_argument("--transaction", required=True, help="the transaction id")
    p = _action_parser(group, "availability", "activate (on) or deactivate (off)", where=True)
    p.add_argument("state", choices=["on", "off"])
    p = _action_parser(group, "config", "OCPP 1.6: read keys (none: all) or change one: KEY=VALUE")
    p.add_argument("keys", nargs="*", metavar="KEY[=VALUE]")
    p = _action_parser(group, "variables", "OCPP 2.0.1: read or set COMPONENT.VARIABLE[=VALUE]")
    p.add_argument("variables", nargs="+", metavar="COMPONENT.VARIABLE[=VALUE]")
    p = _action_parser(group, "firmware", "install firmware from a URL")
    p.add_argument("url")
    p.add_argument("--at", help="not before this RFC 3339 time")
    p = _action_parser(group, "diagnostics", "upload diagnostics / the diagnostics log to a URL")
    p.add_argument("url")
    p = _action_parser(group, "limit", "limit power in W (or `clear`)", where=True)
    p.add_argument("watts", metavar="WATTS|clear")
    p = group.add_parser("commands", help="remote actions sent, newest first")
    p.add_argument("identity", nargs="?", help="one station (default: every station in your scope)")
    p.add_argument("--filter", help='e.g. state = "REJECTED"')
    p.add_argument("--limit", type=int, default=50)
    output_flags(p)
    p.set_defaults(handler=commands)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("stations", help="charging stations as the CSMS sees them").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="stations in your scope: connectivity, status, last seen")
    p.add_argument("--filter", help='e.g. online = true AND protocol = "ocpp2.0.1"')
    output_flags(p)
    p.set_defaults(handler=list_)
    p = group.add_parser("show", help="one station: connection, boot report, connectors")
    p.add_argument("identity", help="the station's OCPP identity (or stations/IDENTITY)")
    output_flags(p)
    p.set_defaults(handler=show)
    p = group.add_parser("log", help="the station message log, newest first")
    p.add_argument("identity", nargs="?", help="one station (default: every station in your scope)")
    p.add_argument("--action", help="only this OCPP action, e.g. Heartbeat")
    p.add_argument("--errors", action="store_true", help="only CALLERRORs and unparsable frames")
    p.add_argument("--since", help="RFC 3339 time, e.g. 2026-11-22T08:00:00Z")
    p.add_argument("--filter", help="any other filter, e.g. direction = IN")
    p.add_argument("--limit", type=int, default=50, help="how many messages (default 50, at most 1000)")
    output_flags(p)
    p.set_defaults(handler=log)
    _register_actions(group)
