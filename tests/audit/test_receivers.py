"""Sign-ins, failed sign-ins (locked out or not) and sign-outs are one entry each, from the
address the app believes: a trusted proxy's X-Forwarded-For, nobody else's."""

import re
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from channels.testing import ApplicationCommunicator
from django.test import Client

from chatapp.models import AuditAction, AuditEntry
from config.asgi import application
from tests.factories import PASSWORD, make_user

ADDRESS = "203.0.113.50"


def entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("id"))


def log_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.mark.django_db
def test_a_sign_in_and_a_sign_out_are_one_entry_each():
    user = make_user("ivan")
    client = Client(REMOTE_ADDR=ADDRESS)
    assert log_in(client, "ivan", PASSWORD).status_code == 302
    [signed_in] = entries()
    assert signed_in.action == AuditAction.SIGN_IN
    assert (signed_in.actor, signed_in.actor_name, signed_in.address) == (user, "ivan", ADDRESS)
    assert client.post("/accounts/logout/").status_code == 302
    signed_out = entries()[-1]
    assert len(entries()) == 2 and signed_out.action == AuditAction.SIGN_OUT
    assert (signed_out.actor, signed_out.address) == (user, ADDRESS)


@pytest.mark.django_db
def test_a_failed_sign_in_keeps_the_name_tried_never_the_password(settings):
    settings.AXES_FAILURE_LIMIT = 2
    user = make_user("judy")
    client = Client(REMOTE_ADDR=ADDRESS)
    assert log_in(client, "judy", "wrong horse").status_code == 200
    [failed] = entries()
    assert failed.action == AuditAction.SIGN_IN_FAILED
    assert (failed.actor, failed.actor_name, failed.address) == (user, "judy", ADDRESS)
    assert failed.detail == {} and "wrong horse" not in str(failed.__dict__)

    assert log_in(client, "=cmd|' /C calc'!A0", "x").status_code == 200
    unknown = entries()[-1]
    assert (unknown.actor, unknown.actor_name) == (None, "=cmd|' /C calc'!A0")

    # The second failure for judy locks the pair out (marked so); the attempt after that is
    # refused before any password is checked, and still recorded as one failed sign-in.
    assert log_in(client, "judy", "wrong again").status_code == 429
    assert log_in(client, "judy", PASSWORD).status_code == 429
    attempts = [e for e in entries() if e.actor_name == "judy"]
    assert [e.action for e in attempts] == [AuditAction.SIGN_IN_FAILED] * 3
    assert [e.detail for e in attempts] == [{}, {"locked_out": True}, {"locked_out": True}]


async def _asgi_request(method: str, path: str, client: str, headers: list, body: bytes = b""):
    scope = {
        "type": "http", "http_version": "1.1", "method": method, "path": path,
        "raw_path": path.encode(), "query_string": b"", "scheme": "http",
        "server": ("127.0.0.1", 8000), "client": (client, 40000),
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(10)
    content = b""
    while True:
        part = await communicator.receive_output(10)
        content += part.get("body", b"")
        if not part.get("more_body"):
            break
    await communicator.wait(10)
    return start, content.decode()


async def _failed_sign_in_through_asgi(client: str, forwarded_for: str) -> AuditEntry:
    start, page = await _asgi_request("GET", "/accounts/login/", client, [])
    cookies = "; ".join(value.decode().split(";")[0] for name, value in start["headers"]
                        if name.lower() == b"set-cookie")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urlencode({"username": "karl", "password": "nope", "csrfmiddlewaretoken": token})
    start, _ = await _asgi_request("POST", "/accounts/login/", client, [
        (b"cookie", cookies.encode()), (b"x-forwarded-for", forwarded_for.encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"referer", b"http://127.0.0.1:8000/accounts/login/"),
    ], form.encode())
    assert start["status"] == 200, _  # the form again, with its error
    return await AuditEntry.objects.order_by("-id").afirst()


@pytest.mark.django_db(transaction=True)
async def test_the_address_is_the_one_config_proxies_believes(settings):
    settings.CHATAPP_TRUSTED_PROXIES = ["127.0.0.1"]
    await database_sync_to_async(make_user)("karl")
    behind_proxy = await _failed_sign_in_through_asgi("127.0.0.1", "203.0.113.77")
    assert behind_proxy.action == AuditAction.SIGN_IN_FAILED
    assert behind_proxy.address == "203.0.113.77"
    # Not from a trusted proxy: the header is the client's own writing, and ignored.
    direct = await _failed_sign_in_through_asgi("198.51.100.9", "203.0.113.77")
    assert direct.address == "198.51.100.9"
