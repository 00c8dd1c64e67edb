"""One simulated charging station: a raw `websockets` client speaking OCPP-J with orjson.

Lean on purpose (no `ocpp` package): many stations run in one process, one reader task each, so
the simulator can drive benchmarks without becoming the bottleneck.

Frames the station cannot match to a pending call (a CALLERROR for id "-1", an answer to a frame
sent with `send_raw`, anything unparsable) land in `unmatched`, which malformed-frame tests read.
CSMS→station CALLs are answered from `handlers` (action → coroutine returning the payload);
an action without a handler gets a `NotImplemented` CALLERROR. `script(action, answer)` overrides
one action: "Accepted", "Rejected" (the action's own refusal, e.g. UnlockFailed) or None (the
station never answers: the CSMS's call times out).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from wattlane.simulator import messages
from wattlane.simulator.config import DISPLAY_COSTS, HEARTBEAT_INTERVAL, StationConfig, seconds_text

CallHandler = Callable[["SimStation", dict[str, Any]], Awaitable[dict[str, Any]]]

# OCPP 1.6 California pricing (OCA application note): the DataTransfer vendor of cost messages.
COSTMSG_VENDOR = "org.openchargealliance.costmsg"


@dataclass(frozen=True, slots=True)
class ShownCost:
    """A cost the CSMS gave the station to show.

    `source` says how: "totalCost" (a 2.0.1 TransactionEventResponse), "CostUpdated" (2.0.1),
    "RunningCost" or "FinalCost" (1.6 California pricing DataTransfer, `data` parsed)."""

    source: str
    transaction_id: str  # as the station knows it (1.6 integer ids as text)
    cost: float
    payload: dict[str, Any]


class SimCallError(Exception):
    """The CSMS answered a call with a CALLERROR."""

    def __init__(self, code: str, description: str, details: dict[str, Any]) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details


def basic_auth_header(username: str, password: str | bytes) -> str:
    """The value of an HTTP Basic Authorization header."""
    raw = username.encode() + b":" + (password if isinstance(password, bytes) else password.encode())
    return "Basic " + base64.b64encode(raw).decode()


class SimStation:
    """A scriptable OCPP 1.6 / 2.0.1 station."""

    def __init__(
        self,
        identity: str,
        url: str,
        *,
        protocol: str = messages.V16,
        password: str | bytes | None = None,
        ssl_context: ssl.SSLContext | None = None,
        subprotocols: list[str] | None = None,
        call_timeout: float = 10.0,
        handlers: dict[str, CallHandler] | None = None,
    ) -> None:
        self.identity = identity
        self.url = url.rstrip("/") + "/" + identity
        self.protocol = protocol
        self.password = password
        self.ssl_context = ssl_context
        self.subprotocols = subprotocols if subprotocols is not None else [protocol]
        self.call_timeout = call_timeout
        self.handlers: dict[str, CallHandler] = dict(handlers or {})
        self.ws: ClientConnection | None = None
        self.unmatched: asyncio.Queue[Any] = asyncio.Queue()
        self.received_calls: list[tuple[str, dict[str, Any]]] = []
        self.boot_response: dict[str, Any] | None = None
        self.reconnect_attempts = 0  # counted by `reconnect.stay_connected`
        self.boot_kwargs: dict[str, Any] = {}  # how it last booted: it boots the same way again
        # The last status reported per (connector, evse): sent again after a reconnect.
        self.connector_statuses: dict[tuple[int, int | None], str] = {}
        self.scripted: dict[str, str | None] = {}
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        # Transaction messages sent while offline (or unanswered when the link dropped), resent
        # in order by `replay_queue` as OCPP asks; 1.6 transactions started offline get a local
        # negative id until the CSMS's StartTransaction answer gives the real one.
        self.offline_queue: list[tuple[str, dict[str, Any]]] = []
        self._local_ids = itertools.count(-1, -1)
        self._real_ids: dict[int, int] = {}
        self._seq_no = -1  # 2.0.1 TransactionEvent seqNo, per station
        # Costs shown (in arrival order).
        self.shown_costs: list[ShownCost] = []
        # Its configuration (1.6 keys, 2.0.1 variables): what is set reads back and takes effect.
        self.config = StationConfig(on_change=self._config_changed)
        # Work started by an answer to a CSMS call (e.g. the StatusNotification after a
        # ChangeAvailability): queued while answering, run once the answer is sent.
        self._after_reply: list[Coroutine[Any, Any, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def displays_costs(self) -> bool:
        """Whether it shows 1.6 California pricing messages (its CustomDisplayCostAndPrice key;
        with False it refuses them)."""
        return self.config.flag(DISPLAY_COSTS)

    @displays_costs.setter
    def displays_costs(self, shows: bool) -> None:
        self.config.put(DISPLAY_COSTS, str(shows).lower())

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between heartbeats: the HeartbeatInterval key (the boot answer's interval)."""
        return float(self.config.get(HEARTBEAT_INTERVAL) or 300)

    def _config_changed(self, key: str) -> None:
        if key == HEARTBEAT_INTERVAL and self._heartbeat is not None:
            self.start_heartbeats()  # the new period applies from now, not after the old one

    def after_reply(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` once the answer to the CSMS call being handled is sent (a handler cannot
        await a call of its own: the reader that would read the CSMS's answer is busy with it)."""
        self._after_reply.append(work)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run `work` as a task the station owns (cancelled by `close`)."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- connection ---------------------------------------------------------------------------

    async def connect(self, *, open_timeout: float = 10.0) -> None:
        """Open the WebSocket (raises websockets' InvalidStatus on 401/404)."""
        headers = {}
        if self.password is not None:
            headers["Authorization"] = basic_auth_header(self.identity, self.password)
        self.ws = await connect(
            self.url,
            subprotocols=[Subprotocol(p) for p in self.subprotocols],
            additional_headers=headers,
            ssl=self.ssl_context,
            compression=None,
            open_timeout=open_timeout,
            ping_interval=None,  # the CSMS pings; thousands of idle simulated stations stay quiet
            max_size=None,
            user_agent_header=None,
            # Stations connect directly: looking up proxies in the environment costs ~0.4 ms per
            # connection in websockets, which dominates a storm of thousands of stations.
            proxy=None,
        )
        if self.ws.subprotocol is not None:
            self.protocol = self.ws.subprotocol
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"sim-{self.identity}")

    @property
    def subprotocol(self) -> str | None:
        """The negotiated sub-protocol (None when the CSMS agreed on none)."""
        return self.ws.subprotocol if self.ws is not None else None

    async def close(self) -> None:
        """Stop the heartbeat loop and the station's own tasks, and close the socket."""
        await self.stop_heartbeats()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.gather(
            *(t for t in self._tasks if t is not asyncio.current_task()), return_exceptions=True
        )
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def wait_closed(self, timeout: float = 5.0) -> tuple[int | None, str | None]:
        """Wait until the CSMS closes the socket; return (code, reason)."""
        assert self.ws is not None, "not connected"
        async with asyncio.timeout(timeout):
            await self.ws.wait_closed()
        return self.ws.close_code, self.ws.close_reason

    # -- calls ----------------------------------------------------------------------------------

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send a CALL; return the CALLRESULT payload or raise `SimCallError`."""
        ws = self.ws
        assert ws is not None, "not connected"
        message_id = str(next(self._ids))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            await ws.send(orjson.dumps([2, message_id, action, payload]), text=True)
            async with asyncio.timeout(timeout if timeout is not None else self.call_timeout):
                return await future
        finally:
            self._pending.pop(message_id, None)

    async def send_raw(self, frame: str | bytes, *, binary: bool = False) -> None:
        """Send any text (or binary) frame as is — for malformed-frame tests."""
        assert self.ws is not None, "not connected"
        await self.ws.send(frame, text=not binary)

    async def next_unmatched(self, timeout: float = 5.0) -> Any:
        """The next frame that answered no pending call (parsed JSON, or the raw text if unparsable)."""
        async with asyncio.timeout(timeout):
            return await self.unmatched.get()

    async def _read(self) -> None:
        ws = self.ws
        assert ws is not None
        try:
            async for raw in ws:
                try:
                    frame = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    self.unmatched.put_nowait(raw)
                    continue
                if type(frame) is list and len(frame) >= 3 and frame[0] in (3, 4):
                    future = self._pending.get(frame[1]) if type(frame[1]) is str else None
                    if future is not None and not future.done():
                        if frame[0] == 3:
                            future.set_result(frame[2])
                        else:
                            details = frame[4] if len(frame) > 4 and isinstance(frame[4], dict) else {}
                            future.set_exception(SimCallError(str(frame[2]), str(frame[3]), details))
                        continue
                elif type(frame) is list and len(frame) == 4 and frame[0] == 2:
                    await self._answer(frame[1], frame[2], frame[3])
                    continue
                self.unmatched.put_nowait(frame)
        except ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"{self.identity}: connection closed"))

    async def _answer(self, message_id: str, action: str, payload: dict[str, Any]) -> None:
        assert self.ws is not None
        self.received_calls.append((action, payload))
        handler = self.handlers.get(action)
        if action in self.scripted:
            answer = self.scripted[action]
            if answer is None:
                return  # silence: the CSMS's call times out
            reply: list[Any] = [3, message_id, scripted_answer(action, answer, self.protocol, payload)]
        elif handler is None:
            reply = [4, message_id, "NotImplemented", f"simulator has no handler for {action}", {}]
        else:
            try:
                reply = [3, message_id, await handler(self, payload)]
            except SimCallError as exc:
                reply = [4, message_id, exc.code, exc.description, exc.details]
                for work in self._after_reply:
                    work.close()  # refused: nothing follows
                self._after_reply.clear()
        await self.ws.send(orjson.dumps(reply), text=True)
        follow_ups, self._after_reply = self._after_reply, []
        for work in follow_ups:
            self.spawn(work, name=f"sim-{self.identity}-{action}")

    # -- scripted behaviour ---------------------------------------------------------------------

    def script(self, action: str, answer: str | None) -> None:
        """Answer `action` with "Accepted" or "Rejected" from now on, or (None) never answer it."""
        self.scripted[action] = answer

    async def boot(self, **kwargs: Any) -> dict[str, Any]:
        """BootNotification; remembers the answer (status, interval). The interval an accepting
        CSMS gives is the station's HeartbeatInterval from now on."""
        self.boot_kwargs = dict(kwargs)
        self.boot_response = await self.call(
            "BootNotification", messages.boot_notification(self.protocol, **kwargs)
        )
        interval = self.boot_response.get("interval")
        if self.boot_response.get("status") == "Accepted" and interval:
            self.config.put(HEARTBEAT_INTERVAL, seconds_text(interval))
        return self.boot_response

    async def heartbeat(self) -> dict[str, Any]:
        """One Heartbeat."""
        return await self.call("Heartbeat", {})

    async def status(self, connector_id: int, status: str, **kwargs: Any) -> dict[str, Any]:
        """StatusNotification for a connector (remembered, and sent again after a reconnect)."""
        self.connector_statuses[(connector_id, kwargs.get("evse_id"))] = status
        return await self.call(
            "StatusNotification", messages.status_notification(self.protocol, connector_id, status, **kwargs)
        )

    async def report_status(self, connector_id: int, status: str, **kwargs: Any) -> None:
        """StatusNotification when connected; offline it is only remembered (a reconnect sends
        the current statuses), as a real station does not queue them."""
        self.connector_statuses[(connector_id, kwargs.get("evse_id"))] = status
        if self.connected:
            with contextlib.suppress(ConnectionError, TimeoutError, ConnectionClosed):
                await self.status(connector_id, status, **kwargs)

    async def authorize(self, id_token: str, token_type: str = "ISO14443") -> dict[str, Any]:
        """Authorize a card; returns the whole response."""
        return await self.call("Authorize", messages.authorize(self.protocol, id_token, token_type))

    # -- transactions (queued while offline) ---------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the WebSocket is open."""
        return self.ws is not None and self.ws.close_code is None and self.ws.state.name == "OPEN"

    async def transaction_message(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send a transaction message, or queue it (None) while offline or behind queued ones."""
        if self.offline_queue or not self.connected:
            self.offline_queue.append((action, payload))
            return None
        try:
            return await self.call(action, self._resolve(payload))
        except (ConnectionError, TimeoutError, ConnectionClosed):
            self.offline_queue.append((action, payload))  # unanswered: it may or may not be stored
            return None

    def _resolve(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as sent: the real transaction id for a local one, no local bookkeeping."""
        payload = {k: v for k, v in payload.items() if k != "localId"}
        local = payload.get("transactionId")
        if isinstance(local, int) and local < 0:
            payload["transactionId"] = self._real_ids.get(local, local)
        return payload

    async def replay_queue(self) -> list[dict[str, Any]]:
        """Resend every queued transaction message in order; returns the answers."""
        answers = []
        while self.offline_queue:
            action, payload = self.offline_queue[0]
            answer = await self.call(action, self._resolve(payload))
            if action == "StartTransaction" and "localId" in payload:
                self._real_ids[payload["localId"]] = answer["transactionId"]
            answers.append(answer)
            self.offline_queue.pop(0)
        return answers

    async def start_transaction(self, connector_id: int, id_tag: str, meter_start: int) -> int:
        """1.6 StartTransaction; the CSMS's transactionId, or a local (negative) id when queued."""
        payload = messages.start_transaction(connector_id, id_tag, meter_start)
        answer = await self.transaction_message("StartTransaction", payload)
        if answer is not None:
            return int(answer["transactionId"])
        local = next(self._local_ids)
        self.offline_queue[-1] = ("StartTransaction", {**payload, "localId": local})
        return local

    async def meter_values(
        self, connector_id: int, transaction_id: int, energy_wh: int, *, power_w: int | None = None
    ) -> dict[str, Any] | None:
        """1.6 MeterValues of a transaction (energy, and power when given)."""
        value = messages.sampled_meter_value(messages.V16, energy_wh, power_w=power_w)
        return await self.transaction_message(
            "MeterValues", messages.meter_values_16(connector_id, transaction_id, [value])
        )

    async def stop_transaction(
        self, transaction_id: int, meter_stop: int, *, reason: str | None = None
    ) -> dict[str, Any] | None:
        """1.6 StopTransaction."""
        return await self.transaction_message(
            "StopTransaction", messages.stop_transaction(transaction_id, meter_stop, reason=reason)
        )

    async def transaction_event(
        self, event_type: str, transaction_id: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        """2.0.1 TransactionEvent with the next seqNo of this station."""
        self._seq_no += 1
        payload = messages.transaction_event(event_type, transaction_id, self._seq_no, **kwargs)
        answer = await self.transaction_message("TransactionEvent", payload)
        if answer is not None and "totalCost" in answer:
            self.shown_costs.append(
                ShownCost("totalCost", transaction_id, float(answer["totalCost"]), answer)
            )
        return answer

    def costs_of(self, transaction_id: str | int, source: str | None = None) -> list[ShownCost]:
        """The costs shown for one transaction (of one `source`, or all), in arrival order."""
        return [
            c
            for c in self.shown_costs
            if c.transaction_id == str(transaction_id) and (source is None or c.source == source)
        ]

    def start_heartbeats(self, interval: float | None = None) -> None:
        """Send Heartbeat every HeartbeatInterval seconds (the boot answer's interval, or
        `interval`, which sets the key), until closed; a change of the key applies at once."""
        if interval is not None:
            self.config.put(HEARTBEAT_INTERVAL, seconds_text(interval))
        if self._heartbeat is not None:
            self._heartbeat.cancel()

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.heartbeat_interval)
                with contextlib.suppress(SimCallError, TimeoutError, ConnectionError, ConnectionClosed):
                    await self.heartbeat()

        self._heartbeat = asyncio.get_running_loop().create_task(loop(), name=f"sim-hb-{self.identity}")

    async def stop_heartbeats(self) -> None:
        """Stop the heartbeat loop (if running)."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def default_handlers(protocol: str) -> dict[str, CallHandler]:
    """Answers a cooperative station gives to common CSMS→station calls."""

    async def accepted(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Accepted"}

    async def get_configuration(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return station.config.get_configuration(list(payload.get("key") or []))

    async def change_configuration(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": station.config.change(payload["key"], payload["value"])}

    async def cost_updated(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        cost = ShownCost("CostUpdated", payload["transactionId"], float(payload["totalCost"]), payload)
        station.shown_costs.append(cost)
        return {}

    async def data_transfer(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("vendorId") != COSTMSG_VENDOR:
            return {"status": "UnknownVendorId"}
        if payload.get("messageId") not in ("RunningCost", "FinalCost"):
            return {"status": "UnknownMessageId"}
        if not station.displays_costs:
            return {"status": "Rejected"}
        data = orjson.loads(payload.get("data") or "{}")
        station.shown_costs.append(
            ShownCost(payload["messageId"], str(data["transactionId"]), float(data["cost"]), data)
        )
        return {"status": "Accepted"}

    async def unlocked(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Unlocked"}  # a valid UnlockStatus in both versions

    async def empty(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return {}  # 1.6 UpdateFirmware.conf has no fields

    async def diagnostics(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return {"fileName": f"{station.identity}-diagnostics.zip"}

    async def get_variables(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return station.config.get_variables(payload.get("getVariableData", []))

    async def set_variables(station: SimStation, payload: dict[str, Any]) -> dict[str, Any]:
        return station.config.set_variables(payload.get("setVariableData", []))

    table: dict[str, CallHandler] = {
        "Reset": accepted,
        "ChangeAvailability": accepted,
        "TriggerMessage": accepted,
        "ClearCache": accepted,
        "UnlockConnector": unlocked,
        "SendLocalList": accepted,
        "SetChargingProfile": accepted,
        "ClearChargingProfile": accepted,
        "DataTransfer": data_transfer,
    }
    if protocol == messages.V16:
        table.update(
            ChangeConfiguration=change_configuration,
            GetConfiguration=get_configuration,
            RemoteStartTransaction=accepted,
            RemoteStopTransaction=accepted,
            UpdateFirmware=empty,
            GetDiagnostics=diagnostics,
        )
    else:
        table.update(
            GetVariables=get_variables,
            SetVariables=set_variables,
            RequestStartTransaction=accepted,
            RequestStopTransaction=accepted,
            UpdateFirmware=accepted,
            GetLog=accepted,
            CostUpdated=cost_updated,
        )
    return table


def scripted_answer(action: str, answer: str, protocol: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A schema-valid CALLRESULT for `action` meaning `answer` ("Accepted" or "Rejected")."""
    accepted = answer == "Accepted"
    if action == "UnlockConnector":
        return {"status": "Unlocked" if accepted else "UnlockFailed"}
    if action in ("SetVariables", "GetVariables"):
        key = "setVariableResult" if action == "SetVariables" else "getVariableResult"
        items = payload.get("setVariableData" if action == "SetVariables" else "getVariableData", [])
        return {
            key: [
                {
                    "attributeStatus": "Accepted" if accepted else "Rejected",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in items
            ]
        }
    if action == "GetConfiguration":
        keys = payload.get("key", [])
        if accepted:
            return {"configurationKey": [{"key": k, "readonly": False, "value": "0"} for k in keys]}
        return {"unknownKey": keys} if keys else {}
    if action in ("GetDiagnostics", "UpdateFirmware") and protocol == messages.V16:
        return {}  # 1.6 has no status in these answers
    if action == "CostUpdated":
        return {}  # its answer has no fields
    refusal = {"SendLocalList": "Failed", "ClearChargingProfile": "Unknown"}.get(action, "Rejected")
    return {"status": "Accepted" if accepted else refusal}
