"""wattlane stations list | show | log: the CSMS's view of charging stations.

The CSMS address is WATTLANE_CSMS_ADDRESS (default 127.0.0.1:50061, what `wattlane up` uses)."""

from __future__ import annotations

import argparse
import json
import os

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.csms.v1 import stations_pb2
from wattlane.cli.output import as_json, table
from wattlane.cli.session import Session
from wattlane.csms.client import CsmsClient
from wattlane.identity.client import IdentityClient

S = stations_pb2
DEFAULT_CSMS = "127.0.0.1:50061"
_PAYLOAD_WIDTH = 90


def csms_client(session: Session) -> CsmsClient:
    """A client of the CSMS with the session's token."""
    return CsmsClient(os.environ.get("WATTLANE_CSMS_ADDRESS", DEFAULT_CSMS), session.token, max_attempts=3)


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
            else json.dumps(MessageToDict(m.payload), separators=(",", ":"))
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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("stations", help="charging stations as the CSMS sees them").add_subparsers(
        dest="action", required=True
    )
    p = group.add_parser("list", help="stations in your scope: connectivity, status, last seen")
    p.add_argument("--filter", help='e.g. online = true AND protocol = "ocpp2.0.1"')
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_)
    p = group.add_parser("show", help="one station: connection, boot report, connectors")
    p.add_argument("identity", help="the station's OCPP identity (or stations/IDENTITY)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=show)
    p = group.add_parser("log", help="the station message log, newest first")
    p.add_argument("identity", nargs="?", help="one station (default: every station in your scope)")
    p.add_argument("--action", help="only this OCPP action, e.g. Heartbeat")
    p.add_argument("--errors", action="store_true", help="only CALLERRORs and unparsable frames")
    p.add_argument("--since", help="RFC 3339 time, e.g. 2026-11-22T08:00:00Z")
    p.add_argument("--filter", help="any other filter, e.g. direction = IN")
    p.add_argument("--limit", type=int, default=50, help="how many messages (default 50, at most 1000)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=log)
