"""The server (`python -m chatapp.runtime.server`) refuses a request body over its path's limit
where the
bytes arrive: a 413 at once, before the body is received, and nothing spooled to disk.

Stock daphne receives a whole body into a temporary file before the application sees the
request, so an anonymous POST declaring 2 GB could fill the disk, and an upload declaring 40 MB
got no answer until all of it had come. Driven with raw sockets, as an attacker would.
"""

import json
import os
import socket
import time
from pathlib import Path

import pytest

from tests.servers import Servers

ANSWER_WITHIN = 1.0  # seconds


@pytest.fixture(scope="module")
def server(offline_upstream, tmp_path_factory):
    spool = tmp_path_factory.mktemp("spool")
    servers = Servers(offline_upstream, TMPDIR=str(spool))
    yield servers
    servers.stop()


def spooled_bytes(server: Servers) -> int:
    """Bytes in the temporary files the server process holds open (unlinked spool files)."""
    fds = Path(f"/proc/{server.processes[0].pid}/fd")
    total = 0
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
            if target.startswith("/") and not target.startswith(("/dev/", "/proc/")):
                stat = fd.stat()
                total += stat.st_size if target.endswith("(deleted)") else 0
        except OSError:
            continue  # closed meanwhile
    return total


def open_request(server: Servers, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.ports[0]), timeout=ANSWER_WITHIN)
    sock.sendall(head.encode())
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict, float]:
    """(status, JSON body, seconds it took) of the answer, read until the server closes."""
    start = time.monotonic()
    data = b""
    while True:
        chunk = sock.recv(65536)  # socket.timeout (a failure) if nothing comes in time
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), time.monotonic() - start


def test_an_anonymous_post_declaring_2_gb_is_refused_at_once_and_nothing_is_spooled(server):
    before = spooled_bytes(server)
    sock = open_request(
        server,
        "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {2 * 1024**3}\r\n\r\n",
    )
    with sock:
        sock.sendall(b"username=x&password=" + b"y" * 4000)
        status, body, seconds = read_answer(sock)
    assert status == 413 and seconds < ANSWER_WITHIN
    assert "larger than 1 MB" in body["error"]
    assert spooled_bytes(server) == before


def test_an_upload_declaring_40_mb_with_nothing_sent_is_answered_413_at_once(server):
    sock = open_request(
        server,
        "POST /api/conversations/1/attachments/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {40 * 1024 * 1024}\r\n\r\n",
    )
    with sock:
        status, body, seconds = read_answer(sock)
    assert status == 413 and seconds < ANSWER_WITHIN
    assert body == {"error": "The file is larger than 32 MB, the most one upload may be."}


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit(server):
    """No Content-Length to judge by: the bytes are counted as they arrive."""
    before = spooled_bytes(server)
    sock = open_request(
        server,
        "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    with sock:
        piece = b"y" * 65536
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        for _ in range(17):  # 1.06 MB, over the 1 MB limit, and the stream never ends
            sock.sendall(chunk)
        status, body, seconds = read_answer(sock)
    assert status == 413 and seconds < ANSWER_WITHIN
    assert "larger than 1 MB" in body["error"]
    assert spooled_bytes(server) == before


def test_a_client_still_sending_after_the_413_reads_it_rather_than_a_reset(server):
    sock = open_request(
        server,
        "POST /api/batch-documents/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n",
    )
    with sock:
        sock.settimeout(5)
        for _ in range(32):  # 2 MB more after the answer, as a browser's upload would
            sock.sendall(b"z" * 65536)
        status, body, _ = read_answer(sock)
    assert status == 413 and "32 MB" in body["error"]


def test_a_body_within_its_limit_is_served_as_before(server):
    form = b"username=demo&password=wrong"
    sock = open_request(
        server,
        "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(form)}\r\n\r\n",
    )
    with sock:
        sock.sendall(form)
        sock.settimeout(20)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 403")  # Django's CSRF check: the request reached it
