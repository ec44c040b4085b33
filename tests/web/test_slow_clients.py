"""Bad clients against a real `fiduciary serve` (issue 17): a trickled body and thousands of held connections.

A raw socket sends a request's headers and then its body a byte at a time: the service ends it with 408 and
closes the connection once the body deadline (FIDUCIARY_BODY_TIMEOUT_SECONDS, 2 s here) has passed, while
it keeps answering other clients. Then the test opens and holds HELD connections (10,000, or as many as this
process's file limit allows; the limit is raised first) and the service still answers new requests.
"""

from __future__ import annotations

import resource
import socket
import time
from pathlib import Path

import httpx

from server_support import ServerProcess, make_server

HELD = 10_000
SOCKET_BOUND = 60.0  # how long a read may block before the test fails: a bound for a hang, not a speed claim


class _Server(ServerProcess):
    def env(self) -> dict[str, str]:
        return {**super().env(), "FIDUCIARY_BODY_TIMEOUT_SECONDS": "2"}


def _start(database_url: str, tmp_path: Path) -> tuple[ServerProcess, str]:
    plain, key = make_server(database_url, tmp_path, ["decisions", "consent:write"])
    server = _Server(plain.database_url, plain.data_dir, plain.log_path, port=plain.port)
    server.start()
    return server, key


def _trickle(port: int, key: str, *, trickle_for: float) -> tuple[bytes, int, float]:
    """Send the headers of a 1,000-byte body, then a byte every 0.2 s for `trickle_for` seconds, then wait;
    return the answer, the bytes sent and the seconds until the server closed the connection.

    A byte sent just after the server answered and closed makes its kernel reset the connection, and a reset
    may discard the answer before it is read (RFC 9112 §9.6): a reset counts as the close it follows, with
    whatever answer had been read by then.
    """
    head = (
        "POST /v1/consents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_BOUND) as sock:
        sock.sendall(head)
        sock.settimeout(0.2)
        answer = b""
        started = time.monotonic()
        while time.monotonic() - started < SOCKET_BOUND:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if sent < 1000 and time.monotonic() - started < trickle_for:
                    try:
                        sock.sendall(b" ")
                        sent += 1
                    except OSError:
                        pass
                continue
            except ConnectionResetError:
                return answer, sent, time.monotonic() - started
            if not chunk:
                return answer, sent, time.monotonic() - started  # the server closed the connection
            answer += chunk
        raise AssertionError(f"the server neither answered nor closed; got {answer!r}")


def _raise_file_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_slow_body_is_cut_off_and_held_connections_do_not_starve_others(database_url: str, tmp_path: Path) -> None:
    limit = _raise_file_limit(HELD + 1_000)  # before the server starts: it inherits the limit, then raises its own
    server, key = _start(database_url, tmp_path)
    held: list[socket.socket] = []
    try:
        # Bytes keep coming past the deadline: they do not keep the request open (closed at the 2 s deadline).
        _, sent, closed_after = _trickle(server.port, key, trickle_for=SOCKET_BOUND)
        assert sent < 1000 and 1.5 <= closed_after < 10, (sent, closed_after)
        # Bytes stop before the deadline: the answer, read whole, is the 408 problem, then the close.
        answer, sent, _ = _trickle(server.port, key, trickle_for=1.0)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"request_timeout" in answer and b"application/problem+json" in answer
        assert sent < 1000  # cut off before the body was complete, and the connection was closed
        with httpx.Client(base_url=server.base_url, timeout=SOCKET_BOUND) as client:
            assert client.get("/healthz").status_code == 200

        count = min(HELD, limit - 500)
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(SOCKET_BOUND)
            sock.connect(("127.0.0.1", server.port))
            held.append(sock)
        print(f"held {len(held)} connections (file limit {limit})")
        assert len(held) >= 2_000
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.base_url, timeout=SOCKET_BOUND, headers=headers) as client:
            for _ in range(3):
                assert client.get("/healthz").status_code == 200
            person = "per_" + "b" * 26
            decided = client.post("/v1/decisions", json={"subject_id": person, "purpose": "marketing.email"})
            assert decided.status_code == 200, decided.text
        # The held connections are still open: one of them can still be used.
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert held[0].recv(64).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in held:
            sock.close()
        server.kill()
