"""wattlane firmware campaigns create | list | show | pause | resume | cancel: firmware rollouts
across many stations, wave by wave (a canary first), each wave gated on the one before.

A campaign is given with flags (--version and --location of the image, the stations by
--station / --subtree / --vendor / --model / --from-version, --canary N and --waves 50,50 for
the rollout, --gate-percent or --manual-gate for the gates), or whole with --file campaign.json
(the API's Campaign as JSON). `show --watch` redraws the stations per state per wave until the
campaign has finished. Pause, resume and cancel need a --reason: it is recorded with your name."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from wattlane.api.csms.v1 import campaigns_pb2
from wattlane.cli.clients import csms_client
from wattlane.cli.output import as_json, list_flags, output_flags, print_list, resource, table
from wattlane.cli.session import Session
from wattlane.core.clients.csms import CsmsClient
from wattlane.core.clients.identity import IdentityClient

P = campaigns_pb2
# The states a station goes through, in order (the columns of `show`).
STATION_STATES = (
    "QUEUED",
    "SENT",
    "ACCEPTED",
    "DOWNLOADING",
    "DOWNLOADED",
    "INSTALLING",
    "INSTALLED",
    "VERIFIED",
    "FAILED",
)
FINISHED = (P.Campaign.SUCCEEDED, P.Campaign.ABORTED, P.Campaign.CANCELLED)


def _state(campaign: P.Campaign) -> str:
    return P.Campaign.State.Name(campaign.state)


def _time(value: Timestamp) -> str:
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M") if value.seconds else "-"


def _verified(campaign: P.Campaign) -> int:
    return sum(w.states.get("VERIFIED", 0) for w in campaign.wave_progress)


def _failed(campaign: P.Campaign) -> int:
    return sum(w.states.get("FAILED", 0) for w in campaign.wave_progress)


def _campaign_from_args(args: argparse.Namespace) -> P.Campaign:
    """The campaign the flags describe (--file gives all of it; flags given override)."""
    campaign = json_format.Parse(Path(args.file).read_text(), P.Campaign()) if args.file else P.Campaign()
    if args.display_name:
        campaign.display_name = args.display_name
    if args.version:
        campaign.firmware.target_version = args.version
    if args.location:
        campaign.firmware.location = args.location
    t = campaign.targets
    if args.station:
        t.stations.extend(resource("stations", s) for s in args.station)
    if args.subtree:
        t.subtree = resource("tenants", args.subtree)
    if args.vendor:
        t.vendor = args.vendor
    if args.model:
        t.model = args.model
    if args.from_version:
        t.firmware_versions.extend(args.from_version)
    if args.canary is not None:
        campaign.waves.canary_count = args.canary
    if args.waves:
        campaign.waves.percentages.extend(float(p) for p in args.waves.split(","))
    if args.gate_percent is not None:
        campaign.gate.min_success_percent = args.gate_percent
    if args.manual_gate:
        campaign.gate.manual = True
    if args.station_timeout is not None:
        campaign.station_timeout.seconds = args.station_timeout * 60
    if args.max_concurrent is not None:
        campaign.max_concurrent = args.max_concurrent
    return campaign


async def create(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    campaign = _campaign_from_args(args)
    if not args.file and not (args.version and args.location):
        raise SystemExit("create: give --version and --location (or the whole campaign with --file)")
    csms = csms_client(session)
    try:
        created = await csms.campaigns.CreateCampaign(
            P.CreateCampaignRequest(campaign=campaign, request_id=args.request_id or "")
        )
    finally:
        await csms.close()
    if args.json:
        print(as_json(created))
        return
    waves = ", ".join(str(w.total) for w in created.wave_progress)
    version = created.firmware.target_version
    print(f"{created.name}: {created.target_count} stations to {version} in waves of {waves}")


async def list_(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    csms = csms_client(session)
    try:
        page = await csms.campaigns.ListCampaigns(
            P.ListCampaignsRequest(filter=args.filter or "", page_size=args.limit, page_token=args.page_token)
        )
    finally:
        await csms.close()
    print_list(
        args,
        page.campaigns,
        page.next_page_token,
        ["name", "display name", "version", "state", "wave", "stations", "verified", "failed", "created"],
        lambda c: (
            c.name,
            c.display_name,
            c.firmware.target_version,
            _state(c),
            c.current_wave,
            c.target_count,
            _verified(c),
            _failed(c),
            _time(c.create_time),
        ),
    )


def render(campaign: P.Campaign) -> str:
    """The campaign as people read it: its state, the stations per state per wave, failures and
    the decisions (who and why)."""
    lines = [
        f"{campaign.name}: {campaign.display_name} -> {campaign.firmware.target_version} "
        f"({_state(campaign)}, wave {campaign.current_wave})",
    ]
    if campaign.state_reason:
        lines.append(f"  why: {campaign.state_reason}")
    columns = [s for s in STATION_STATES if any(w.states.get(s) for w in campaign.wave_progress)]
    rows = [
        (w.wave if w.wave else "0 (canary)", w.total, *(w.states.get(s, 0) or "" for s in columns))
        for w in campaign.wave_progress
    ]
    lines.append(table(["wave", "stations", *columns], rows))
    if campaign.failures:
        lines.append("failures: " + ", ".join(f"{k} {v}" for k, v in sorted(campaign.failures.items())))
    lines.append(
        table(
            ["time (UTC)", "actor", "action", "reason"],
            [(_time(d.time), d.actor, d.action, d.reason) for d in campaign.decisions],
        )
    )
    return "\n".join(lines)


async def show(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    name = resource("campaigns", args.name)
    csms = csms_client(session)
    try:
        while True:
            campaign = await csms.campaigns.GetCampaign(P.GetCampaignRequest(name=name))
            if args.json:
                print(as_json(campaign), flush=True)
            else:
                if args.watch:
                    print("\033[2J\033[H", end="")  # clear the screen: a live view, not a log
                print(render(campaign), flush=True)
            if not args.watch or campaign.state in FINISHED:
                return
            await asyncio.sleep(args.interval)
    finally:
        await csms.close()


async def _decide(args: argparse.Namespace, session: Session, action: str) -> None:
    name = resource("campaigns", args.name)
    csms = csms_client(session)
    try:
        campaign = await _send(csms, action, name, args.reason)
    finally:
        await csms.close()
    print(as_json(campaign) if args.json else f"{campaign.name}: {_state(campaign)} ({args.reason})")


async def _send(csms: CsmsClient, action: str, name: str, reason: str) -> P.Campaign:
    if action == "pause":
        return await csms.campaigns.PauseCampaign(P.PauseCampaignRequest(name=name, reason=reason))
    if action == "resume":
        return await csms.campaigns.ResumeCampaign(P.ResumeCampaignRequest(name=name, reason=reason))
    return await csms.campaigns.CancelCampaign(P.CancelCampaignRequest(name=name, reason=reason))


async def pause(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await _decide(args, session, "pause")


async def resume(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await _decide(args, session, "resume")


async def cancel(args: argparse.Namespace, client: IdentityClient, session: Session) -> None:
    await _decide(args, session, "cancel")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    firmware = sub.add_parser("firmware", help="firmware rollouts across stations").add_subparsers(
        dest="noun", required=True
    )
    group = firmware.add_parser(
        "campaigns", help="firmware campaigns: wave by wave, gated, paused and resumed by people"
    ).add_subparsers(dest="action", required=True)
    p = group.add_parser("create", help="roll a firmware image out to the stations selected")
    p.add_argument("--version", help="the firmware version the stations boot with afterwards")
    p.add_argument("--location", help="where stations download the image (https://...)")
    p.add_argument("--display-name", help="the campaign's name (default: the version)")
    p.add_argument("--station", action="append", help="a station (stations/ID or ID); repeat for more")
    p.add_argument("--subtree", help="every station under this tenant (tenants/ID)")
    p.add_argument("--vendor", help="only stations of this vendor")
    p.add_argument("--model", help="only stations of this model")
    p.add_argument("--from-version", action="append", help="only stations on this version; repeatable")
    p.add_argument("--canary", type=int, help="this many stations first, as the canary wave")
    p.add_argument("--waves", help="the rest in waves of these percentages, e.g. 50,50 or 10,40")
    p.add_argument("--gate-percent", type=float, help="a wave passes with at least this % verified")
    p.add_argument("--manual-gate", action="store_true", help="every wave waits for a person to resume")
    p.add_argument("--station-timeout", type=int, help="minutes a station may take (default 120)")
    p.add_argument("--max-concurrent", type=int, help="at most this many stations updating at once")
    p.add_argument("--file", help="the whole campaign as JSON (the API's Campaign); flags override")
    p.add_argument("--request-id", help="makes a retried create return the same campaign")
    output_flags(p)
    p.set_defaults(handler=create)
    p = group.add_parser("list", help="campaigns in your scope, newest first")
    list_flags(p, 'state = RUNNING AND create_time > "2026-12-01T00:00:00Z"')
    p.set_defaults(handler=list_)
    p = group.add_parser("show", help="one campaign: stations per state per wave, decisions")
    p.add_argument("name", help="campaigns/ID or ID")
    p.add_argument("--watch", action="store_true", help="refresh until the campaign has finished")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes (--watch)")
    output_flags(p)
    p.set_defaults(handler=show)
    for action, handler, text in (
        ("pause", pause, "stop sending the update (stations updating now finish)"),
        ("resume", resume, "continue a paused campaign (a held gate counts as passed)"),
        ("cancel", cancel, "end the campaign: stations not sent the update yet are not"),
    ):
        p = group.add_parser(action, help=text)
        p.add_argument("name", help="campaigns/ID or ID")
        p.add_argument("--reason", required=True, help="why (recorded with your name)")
        output_flags(p)
        p.set_defaults(handler=handler)
