"""Run a standalone CSMS listener with in-memory providers: `python -m wattlane.csms` / `wattlane-csms`."""

from __future__ import annotations

import asyncio
import logging
import signal

from wattlane.csms.memory import memory_providers
from wattlane.csms.options import CsmsOptions
from wattlane.csms.runtime import raise_open_files_limit, run
from wattlane.csms.security import SecurityProfile, server_ssl_context
from wattlane.csms.server import Csms, ListenerConfig
from wattlane.csms.settings import CsmsSettings

logger = logging.getLogger("wattlane.csms")


async def serve(settings: CsmsSettings, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then close every station socket cleanly."""
    memory = memory_providers(pattern=settings.demo_pattern, pattern_password=settings.demo_password)
    for identity, password in settings.stations:
        memory.stations.add(identity, password)
    tls = None
    if settings.security_profile is not SecurityProfile.BASIC:
        if settings.tls_cert is None or settings.tls_key is None:
            raise SystemExit(
                "WATTLANE_CSMS_TLS_CERT and WATTLANE_CSMS_TLS_KEY are needed for profiles 2 and 3"
            )
        tls = server_ssl_context(
            settings.security_profile, settings.tls_cert, settings.tls_key, settings.tls_client_ca
        )
    csms = Csms(
        memory.providers(),
        CsmsOptions(
            heartbeat_interval=settings.heartbeat_interval, validate_responses=settings.validate_responses
        ),
    )
    memory.message_log.start()
    server = await csms.listen(
        ListenerConfig(
            host=settings.host,
            port=settings.port,
            profile=settings.security_profile,
            ssl=tls,
            onboarding=settings.onboarding,
            reuse_port=settings.reuse_port,
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ports = sorted({s.getsockname()[1] for s in server.sockets})
    scheme = "wss" if tls is not None else "ws"
    logger.info(
        "CSMS listening on %s://%s:%s/ocpp/<identity>", scheme, settings.host, ports[0] if ports else "?"
    )
    if ready is not None:
        ready.set()
    await stop.wait()
    logger.info("shutting down: closing %d station connections", len(csms.registry))
    await csms.close()
    await memory.message_log.close()


def main() -> None:
    """Console entry point."""
    settings = CsmsSettings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise_open_files_limit()
    run(serve(settings))


if __name__ == "__main__":
    main()
