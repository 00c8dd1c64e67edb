"""Random and mutated frames thrown at the frame layer and at a live socket (hypothesis).

The invariant on the socket: every frame gets exactly the answer the frame layer predicts —
one CALLERROR (with the id and the version's code) for a broken CALL, one reply for a well-formed
CALL, nothing for a response — or, for frames WebSocket itself refuses, a clean close; and the
connection (or a new one) keeps serving. Bounded by the hypothesis profile in conftest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from wattlane.csms.protocol.errors import VALID_ERROR_CODES, OcppVersion, error_code
from wattlane.csms.protocol.frames import Call, Frame, FrameError, parse_frame
from wattlane.csms.testing import DEFAULT_PASSWORD, running_csms
from wattlane.simulator.station import basic_auth_header

SAFE_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | SAFE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SAFE_TEXT, inner, max_size=4),
    max_leaves=12,
)
ACTIONS = [
    "Heartbeat",
    "BootNotification",
    "StatusNotification",
    "Authorize",
    "DataTransfer",
    "Reset",
    "Nope",
]
VALID_FRAMES = [
    [2, "v1", "Heartbeat", {}],
    [2, "v2", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}],
    [
        2,
        "v3",
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}},
    ],
    [2, "v4", "Authorize", {"idTag": "T1"}],
    [2, "v5", "DataTransfer", {"vendorId": "x", "data": "y"}],
    [3, "v6", {"status": "Accepted"}],
    [4, "v7", "GenericError", "x", {}],
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    frame: list[Any] = json.loads(json.dumps(draw(st.sampled_from(VALID_FRAMES))))
    operation = draw(st.sampled_from(["replace", "delete", "append", "truncate", "payload"]))
    if operation == "replace":
        frame[draw(st.integers(0, len(frame) - 1))] = draw(JSON)
    elif operation == "delete":
        del frame[draw(st.integers(0, len(frame) - 1))]
    elif operation == "append":
        frame.append(draw(JSON))
    elif operation == "payload" and isinstance(frame[-1], dict):
        frame[-1][draw(SAFE_TEXT)] = draw(JSON)
    text = json.dumps(frame)
    if operation == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    return text


STRUCTURED = st.builds(
    lambda t, i, a, p: json.dumps([t, i, a, p]),
    st.sampled_from([2, 3, 4, 5, 0, -1, "2", 2.0, True]),
    st.one_of(SAFE_TEXT, st.integers(), st.text(min_size=35, max_size=38)),
    st.one_of(st.sampled_from(ACTIONS), SAFE_TEXT),
    st.one_of(JSON, st.dictionaries(SAFE_TEXT, JSON, max_size=3)),
)
FRAMES = st.one_of(SAFE_TEXT, st.builds(json.dumps, JSON), STRUCTURED, mutated())


def _outcome(raw: bytes) -> Frame | FrameError:
    # Any exception other than FrameError escapes and fails the test.
    try:
        return parse_frame(raw)
    except FrameError as exc:
        return exc


@given(st.binary(max_size=200))
def test_frame_layer_never_raises_anything_but_frame_error(raw: bytes) -> None:
    outcome = _outcome(raw)
    assert outcome.message_id == "-1" or 0 < len(outcome.message_id) <= 36


@given(FRAMES)
def test_frame_layer_handles_structured_and_mutated_frames(text: str) -> None:
    outcome = _outcome(text.encode())
    assert 0 < len(outcome.message_id) <= 36
    if isinstance(outcome, FrameError):
        assert outcome.description


class LiveCsms:
    """A CSMS on its own loop in a thread, so hypothesis can drive it with a blocking client."""

    def __init__(self) -> None:
        self.port = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_csms() as csms:
            self.port = csms.port
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> LiveCsms:
        self._thread.start()
        assert self._ready.wait(10), "CSMS thread did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveCsms]:
    with LiveCsms() as running:
        yield running


class Client:
    def __init__(self, port: int, version: OcppVersion) -> None:
        self.port = port
        self.version = version
        self.ws: ClientConnection | None = None
        self.stack = contextlib.ExitStack()
        self.reconnects = 0

    def socket(self) -> ClientConnection:
        if self.ws is None:
            self.ws = self.stack.enter_context(
                connect(
                    f"ws://127.0.0.1:{self.port}/ocpp/CS001",
                    subprotocols=[Subprotocol(self.version.value)],
                    additional_headers={"Authorization": basic_auth_header("CS001", DEFAULT_PASSWORD)},
                    open_timeout=5,
                )
            )
            self.reconnects += 1
        return self.ws

    def exchange(self, text: str) -> list[Any] | None:
        """Send `text` and a Heartbeat; return the frames before the Heartbeat's answer, or None if closed."""
        ws = self.socket()
        marker = f"hb-{uuid.uuid4().hex[:20]}"
        try:
            ws.send(text)
            ws.send(json.dumps([2, marker, "Heartbeat", {}]))
            before: list[Any] = []
            while True:
                answer = json.loads(ws.recv(timeout=5))
                if answer[:2] == [3, marker]:
                    return before
                before.append(answer)
        except ConnectionClosed:
            self.ws = None
            return None


def _expected(text: str, version: OcppVersion) -> tuple[str, str | None] | None:
    """(message id, CALLERROR code or None for any reply) the CSMS must send, None for silence."""
    outcome = _outcome(text.encode())
    if isinstance(outcome, FrameError):
        return None if outcome.is_response else (outcome.message_id, error_code(version, outcome.kind))
    return (outcome.message_id, None) if isinstance(outcome, Call) else None


@pytest.mark.parametrize("version", list(OcppVersion))
def test_live_socket_answers_every_fuzzed_frame_as_specified(live: LiveCsms, version: OcppVersion) -> None:
    client = Client(live.port, version)

    @given(FRAMES)
    def check(text: str) -> None:
        replies = client.exchange(text)
        if replies is None:
            return  # a clean close (e.g. invalid UTF-8); the next example reconnects
        expected = _expected(text, version)
        if expected is None:
            assert replies == []
            return
        assert len(replies) == 1, replies
        reply = replies[0]
        assert reply[1] == expected[0]
        if expected[1] is not None:
            assert reply[0] == 4
            assert reply[2] == expected[1]
        if reply[0] == 4:
            assert reply[2] in VALID_ERROR_CODES[version]
            assert isinstance(reply[3], str)
            assert isinstance(reply[4], dict)
        else:
            assert reply[0] == 3
            assert isinstance(reply[2], dict)

    with client.stack:
        check()
        assert client.exchange("[]") is not None  # still serving at the end
