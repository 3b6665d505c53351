"""The client adapters' internals: the parts ``anyio``, ``threaded`` and ``blocking`` share.

* ``driver``: binds a ``ClientConnection`` to one transport's bytes and clock.
* ``calls``: the call surface (``call``, ``ping``, metrics) every client exposes.
* ``pipes``: TCP, TLS and proxy tunnels as byte pipes.
* ``aiolink``: the anyio client's websocket link (framing through websockets' sans-I/O layer).
* ``wsclient``: the websocket-client link the threaded and blocking clients share.
* ``portal``: the anyio client driven from synchronous code through a blocking portal.

Nothing here imports the reference server or its market: the client side stands alone.
"""
