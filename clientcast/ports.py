"""Can a server listen on a host and port? Asked before `clientcast serve` spends seconds starting.

The probe binds a socket the way the server will (``SO_REUSEADDR``, as uvicorn does), so it
fails exactly when the server would: another process listens there, the host is not an address
of this machine, or the port needs privileges. A port freed a moment ago (``TIME_WAIT``) passes.
"""

from __future__ import annotations

import errno
import socket

from features.errors import UserInputError


def check_port_free(host: str, port: int) -> None:
    """Raise UserInputError, naming the port and the host, when a server cannot listen there."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise UserInputError(f"--host {host!r} is not a known host ({error.strerror})") from None
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise UserInputError(bind_problem(host, port, error)) from None


def bind_problem(host: str, port: int, error: OSError) -> str:
    """Why nothing can listen on ``host``:``port``, and what to do, from the bind error."""
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use: stop what listens there or pass another --port"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"--host {host} is not an address of this machine"
    if error.errno == errno.EACCES:
        return f"port {port} on {host} needs privileges: pass a --port above 1023"
    return f"cannot listen on port {port} on {host}: {error.strerror}"
