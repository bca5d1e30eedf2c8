"""A real OpenID provider for the sign-in tests (tests/openid_provider.mjs: the npm package
oidc-provider, run with the machine's Node.js), and a person's side of the redirect dance
without a browser: follow the provider's redirects and fill in its login form."""

import json
import os
import re
import selectors
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "openid_provider.mjs"
CLIENT_ID = "chatapp"
CLIENT_SECRET = "chatapp-test-secret"
TIMEOUT = 20


class OpenIDProvider:
    """``node tests/openid_provider.mjs``; ready once it has printed its issuer."""

    def __init__(self, redirect_uris: list[str]) -> None:
        if not (ROOT / "node_modules" / "oidc-provider").exists():
            pytest.fail("oidc-provider is missing: `make test` installs it (npm ci)")
        env = {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
               "REDIRECT_URIS": ",".join(redirect_uris), "PATH": os.environ.get("PATH", ""),
               "NODE_ENV": "test"}
        self.process = subprocess.Popen(
            ["node", str(SCRIPT)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=TIMEOUT):
                self.stop()
                raise RuntimeError("the OpenID provider did not start")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the OpenID provider exited with {self.process.wait()}")
        self.issuer = json.loads(line)["issuer"]

    def _control(self, method: str, path: str, body: Any = None) -> None:
        response = requests.request(method, f"{self.issuer}/_control/{path}", json=body,
                                    timeout=TIMEOUT)
        response.raise_for_status()

    def add_person(self, sub: str, password: str, **claims: Any) -> None:
        self._control("PUT", f"accounts/{urllib.parse.quote(sub)}",
                      {"password": password, "claims": claims})

    def remove_person(self, sub: str) -> None:
        self._control("DELETE", f"accounts/{urllib.parse.quote(sub)}")

    def set_fault(self, fault: str | None) -> None:
        self._control("PUT", "fault", {"fault": fault})

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=TIMEOUT)


class Person:
    """A browser's part of the dance at the provider, as plain HTTP: its cookies (the
    provider's session) persist between sign-ins like a browser's would."""

    def __init__(self) -> None:
        self.http = requests.Session()

    def at_provider(self, url: str, app_origin: str, username: str | None = None,
                    password: str | None = None, cancel: bool = False) -> str:
        """Follow the provider from ``url`` until it sends the browser back to the app;
        sign in on its login form on the way if asked to (or press its Cancel button).
        Returns the URL back to the app."""
        for _ in range(10):
            if url.startswith(app_origin):
                return url
            response = self.http.get(url, allow_redirects=False, timeout=TIMEOUT)
            if response.is_redirect:
                url = urllib.parse.urljoin(url, response.headers["Location"])
                continue
            form = re.search(r'<form method="post" action="([^"]+)"', response.text)
            if not form or (username is None and not cancel):
                raise AssertionError(f"the provider stopped at {url}: {response.text[:500]}")
            action = form.group(1).replace("/login", "/cancel") if cancel else form.group(1)
            response = self.http.post(
                urllib.parse.urljoin(url, action),
                data={"username": username, "password": password},
                allow_redirects=False, timeout=TIMEOUT,
            )
            if not response.is_redirect:
                raise AssertionError(f"the provider refused the login: {response.text[:500]}")
            url = urllib.parse.urljoin(url, response.headers["Location"])
            username = None
        raise AssertionError("the provider redirected too often")


@pytest.fixture(scope="session")
def openid_provider() -> Iterator[OpenIDProvider]:
    """One provider for the server-side tests, whose app is Django's test client."""
    provider = OpenIDProvider(["http://testserver/oidc/callback/"])
    yield provider
    provider.stop()
