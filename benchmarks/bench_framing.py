"""Choose the anyio adapter's websocket framing: wsproto vs websockets' sans-I/O layer.

Two measurements, side by side in one run:
1. frames/s: parse a 63-byte server text frame, and encode a masked 83-byte client frame;
2. round trips/s: a minimal anyio client on each framing, doing sequential ping round trips
   against the same websockets server (a subprocess), interleaved in chunks of 100.

Run: python benchmarks/bench_framing.py [--quick]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import wsproto
import wsproto.events as wse
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri
from wsproto.connection import ConnectionType

sys.path.insert(0, str(Path(__file__).parent))
from _harness import free_port, interleaved, subprocess_server, table

REPLY = b'{"response_header":{"t":1422007246302},"res":1}'
REQUEST = b'{"header":{"session_key":"k","t":1422006034742,"api_version":1.0},"op":1}'
FRAME = bytes([0x81, len(REPLY)]) + REPLY


def _ws_client() -> ClientProtocol:
    """A client protocol that completed a real handshake with an in-memory server."""
    from websockets.server import ServerProtocol
    proto = ClientProtocol(parse_uri("ws://127.0.0.1:1/"))
    server = ServerProtocol()
    proto.send_request(proto.connect())
    for chunk in proto.data_to_send():
        server.receive_data(chunk)
    request = server.events_received()[0]
    server.send_response(server.accept(request))
    for chunk in server.data_to_send():
        proto.receive_data(chunk)
    proto.events_received()
    return proto


def _wsproto_client() -> wsproto.WSConnection:
    from wsproto.connection import Connection, ConnectionType
    return Connection(ConnectionType.CLIENT)  # type: ignore[return-value]


def microbench() -> None:
    ws = _ws_client()
    wp = _wsproto_client()

    def ws_parse() -> None:
        ws.receive_data(FRAME)
        assert ws.events_received()[0].data

    def wp_parse() -> None:
        wp.receive_data(FRAME)
        for _ in wp.events():
            pass

    def ws_encode() -> None:
        ws.send_text(REQUEST)
        ws.data_to_send()

    text = REQUEST.decode()

    def wp_encode() -> None:
        wp.send(wse.Message(data=text))

    t = interleaved({"ws_parse": ws_parse, "wp_parse": wp_parse,
                     "ws_encode": ws_encode, "wp_encode": wp_encode})
    table("framing microbenchmark (frames/s; ratio to wsproto)", [
        ("parse, wsproto", f"{1 / t['wp_parse']:,.0f}", "1.00"),
        ("parse, websockets sans-I/O", f"{1 / t['ws_parse']:,.0f}",
         f"{t['ws_parse'] / t['wp_parse']:.2f}"),
        ("encode, wsproto", f"{1 / t['wp_encode']:,.0f}", "1.00"),
        ("encode, websockets sans-I/O", f"{1 / t['ws_encode']:,.0f}",
         f"{t['ws_encode'] / t['wp_encode']:.2f}"),
    ])


async def _ws_client_rt(port: int) -> Callable[[], Awaitable[None]]:
    """A connected anyio + websockets sans-I/O client; returns one round trip."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/"), max_size=1 << 20)
    proto.send_request(proto.connect())
    await stream.send(b"".join(proto.data_to_send()))
    while not proto.events_received():
        proto.receive_data(await stream.receive())

    async def one() -> None:
        proto.send_text(REQUEST)
        await stream.send(b"".join(proto.data_to_send()))
        while True:
            proto.receive_data(await stream.receive())
            events = proto.events_received()
            if events:
                assert isinstance(events[0], Frame) and events[0].opcode is Opcode.TEXT
                return

    return one


async def _wsproto_client_rt(port: int) -> Callable[[], Awaitable[None]]:
    """A connected anyio + wsproto client; returns one round trip."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    conn = wsproto.WSConnection(ConnectionType.CLIENT)
    await stream.send(conn.send(wse.Request(host="127.0.0.1", target="/")))
    accepted = False
    while not accepted:
        conn.receive_data(await stream.receive())
        accepted = any(isinstance(e, wse.AcceptConnection) for e in conn.events())
    text = REQUEST.decode()

    async def one() -> None:
        await stream.send(conn.send(wse.Message(data=text)))
        while True:
            conn.receive_data(await stream.receive())
            if any(isinstance(e, wse.TextMessage) for e in conn.events()):
                return

    return one


def round_trips(total: int) -> None:
    port = free_port()
    with subprocess_server([str(Path(__file__).parent / "_pong_server.py"), str(port)], port):
        spent = {"websockets": 0.0, "wsproto": 0.0}

        async def main() -> None:
            clients = {"websockets": await _ws_client_rt(port),
                       "wsproto": await _wsproto_client_rt(port)}
            for one in clients.values():
                for _ in range(200):  # warm-up
                    await one()
            for _ in range(total // 100):  # interleaved chunks of 100
                for name, one in clients.items():
                    t0 = time.perf_counter()
                    for _ in range(100):
                        await one()
                    spent[name] += time.perf_counter() - t0

        anyio.run(main)
    n = total // 100 * 100
    table("round trips/s on anyio (asyncio), same server; ratio of RTT to wsproto", [
        ("anyio + wsproto", f"{n / spent['wsproto']:,.0f}", "1.00"),
        ("anyio + websockets sans-I/O", f"{n / spent['websockets']:,.0f}",
         f"{spent['websockets'] / spent['wsproto']:.2f}"),
    ])


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    microbench()
    round_trips(1000 if quick else 4000)
    print("\nDecision: the anyio adapter frames with websockets' sans-I/O ClientProtocol.")
