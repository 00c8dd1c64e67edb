"""`wattlane-sim`: run N simulated stations against a CSMS.

wattlane-sim --url ws://127.0.0.1:9000/ocpp --count 5 --protocol ocpp1.6 --password secret

Each station boots, reports its connector, heartbeats, answers remote start / stop,
availability and configuration as a real station does and reconnects with backoff when the
connection drops; with `--session-card` (repeatable) drivers charge through a compressed,
seeded day (`--session-speed`, `--session-seed`, `--session-power`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from wattlane.simulator import messages
from wattlane.simulator.certs import Issued, client_ssl_context
from wattlane.simulator.day import Day, charge_through_the_day
from wattlane.simulator.fleet import Fleet
from wattlane.simulator.reconnect import Backoff, stay_connected
from wattlane.simulator.sessions import ConnectorRunner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="wattlane-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp", help="CSMS URL without the identity")
    parser.add_argument("--count", type=int, default=1, help="number of stations")
    parser.add_argument("--protocol", choices=messages.PROTOCOLS, default=messages.V16)
    parser.add_argument("--prefix", default="SIM-", help="identities are <prefix><n>")
    parser.add_argument("--start", type=int, default=1, help="first n")
    parser.add_argument("--password", default=None, help="Basic auth password (profiles 1, 2)")
    parser.add_argument(
        "--keys-file",
        type=Path,
        default=None,
        help="JSON {identity: AuthorizationKey}: run these stations, each with its key (not --count)",
    )
    parser.add_argument("--identity", action="append", help="with --keys-file: only these identities")
    parser.add_argument("--ca", type=Path, default=None, help="CA file to trust for wss://")
    parser.add_argument("--cert", type=Path, default=None, help="client certificate (profile 3)")
    parser.add_argument("--key", type=Path, default=None, help="client certificate key (profile 3)")
    parser.add_argument("--heartbeat", type=float, default=None, help="seconds (default: the boot interval)")
    parser.add_argument("--status", default="Available", help="status to report for connector 1 after boot")
    parser.add_argument(
        "--reconnect-cap", type=float, default=60.0, help="longest wait (s) between reconnect attempts"
    )
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run; 0 = until Ctrl-C")
    parser.add_argument(
        "--session-card",
        action="append",
        default=[],
        help="run a compressed day of charging sessions with these card UIDs (repeat for several)",
    )
    parser.add_argument("--session-seed", type=int, default=0, help="the day's random seed (per station)")
    parser.add_argument(
        "--session-speed", type=float, default=60.0, help="simulated seconds per second (60: a day in 24 min)"
    )
    parser.add_argument("--session-power", type=int, default=11_000, help="the stations' maximum power (W)")
    parser.add_argument(
        "--session-delay", type=float, default=5.0, help="seconds after start before the first session"
    )
    parser.add_argument(
        "--session-stagger", type=float, default=20.0, help="seconds between stations' first sessions"
    )
    return parser.parse_args(argv)


async def run(ns: argparse.Namespace) -> int:
    """Bring the fleet up, keep it heartbeating, and take it down; exit status 1 if any failed."""
    ssl_context = None
    if ns.url.startswith("wss://"):
        if ns.ca is None:
            print("wss:// needs --ca", file=sys.stderr)
            return 2
        client = Issued(ns.cert, ns.key) if ns.cert is not None and ns.key is not None else None
        ssl_context = client_ssl_context(ns.ca, client)
    keys = None
    if ns.keys_file is not None:
        keys = {
            i: k
            for i, k in json.loads(ns.keys_file.read_text()).items()
            if not ns.identity or i in ns.identity
        }
    fleet = Fleet(
        ns.url,
        ns.count,
        protocol=ns.protocol,
        prefix=ns.prefix,
        start=ns.start,
        password=ns.password,
        ssl_context=ssl_context,
        keys=keys,
    )
    report = await fleet.up(status=ns.status)
    print(
        f"{report.connected}/{len(fleet)} connected, {report.accepted} accepted, {report.failed} failed "
        f"in {report.seconds:.2f} s"
    )
    for error in report.errors:
        print(f"  {error}", file=sys.stderr)
    fleet.start_heartbeats(ns.heartbeat)
    # Like real stations, each one reconnects after any disconnect (and those that failed to
    # come up keep trying), with backoff.
    backoff = Backoff(cap=ns.reconnect_cap)
    for station in fleet:
        station.spawn(stay_connected(station, backoff, status=ns.status, heartbeat=ns.heartbeat))
    # Every station answers remote start / stop and availability on its connector; with cards,
    # drivers also come by through the (compressed) day.
    sessions = []
    runners = []
    day = Day(tuple(ns.session_card), ns.session_power, ns.session_speed, ns.session_seed)
    for n, station in enumerate(fleet):
        runner = ConnectorRunner(station).attach()
        runners.append(runner)
        if ns.session_card:
            first = ns.session_delay + n * ns.session_stagger  # not every station plugs in at once
            sessions.append(asyncio.create_task(charge_through_the_day(runner, day, first_after=first)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(ns.duration or None):
            await stop.wait()
    # Going down ends the sessions in progress (reason Reboot): no transaction is left open.
    await asyncio.gather(*(r.shut_down() for r in runners))
    for task in sessions:
        task.cancel()
    await asyncio.gather(*sessions, return_exceptions=True)
    await fleet.down()
    return 1 if report.failed else 0


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    sys.exit(asyncio.run(run(parse_args(argv))))


if __name__ == "__main__":
    main()
