"""The pages' scripts as a deploy serves them: after collectstatic (tests/browser/conftest.py
runs it with the real storage, config/staticfiles.py), every ES module the chat and Batch jobs
pages load, and every module those import, is fetched under its hashed name. A module fetched
by its plain name would be an import collectstatic did not rewrite: browsers keep static files
for a year, so after the next deploy that page would run new modules against old ones.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_page import (  # noqa: F401 (autouse fixture: any script error fails the test)
    no_script_errors,
    start_new_chat,
)

pytestmark = pytest.mark.browser

HASHED = re.compile(r"\.[0-9a-f]{12}\.js$")
# Every module of the chat page (the template names main.js; the rest are imports).
CHAT_MODULES = {
    "chatapp/agentic.js", "chatapp/attachments.js", "chatapp/render.js",
    "chatapp/comforts.js", "chatapp/settings.js", "chatapp/budget.js", "chatapp/estimate.js",
    "chatapp/try.js",
    "chatapp/lib/api.js", "chatapp/lib/dom.js", "chatapp/lib/format.js", "chatapp/lib/json.js",
    "chatapp/lib/money.js", "chatapp/lib/socket.js",
    *(f"chatapp/chat/{name}.js" for name in (
        "state", "notices", "controls", "scrolling", "paint", "messages", "cost", "sidebar",
        "filing", "projects", "snapshot", "replies", "frames", "connection", "navigation",
        "actions", "composer", "main")),
}


def record_scripts(page: Page) -> list:
    """The script responses the page gets from now on."""
    responses = []
    page.on("response", lambda response: responses.append(response)
            if response.request.resource_type == "script" else None)
    return responses


def chatapp_modules(responses) -> dict[str, int]:
    """{plain name under static/: status} of the chatapp scripts fetched, each checked hashed."""
    fetched = {}
    for response in responses:
        path = re.sub(r"^https?://[^/]+/static/", "", response.url)
        if not path.startswith("chatapp/"):
            continue
        assert HASHED.search(path), f"{path} was fetched by its plain name: an import not rewritten"
        fetched[HASHED.sub(".js", path)] = response.status
    return fetched


def test_the_chat_page_fetches_every_module_by_its_hashed_name(page: Page, live_app):
    responses = record_scripts(page)
    start_new_chat(page, live_app)
    # main.js ran to its end: the sidebar's list was asked for and drawn.
    expect(page.locator("#conv-status")).not_to_contain_text("Loading")
    fetched = chatapp_modules(responses)
    assert set(fetched) == CHAT_MODULES
    assert set(fetched.values()) == {200}


def test_the_batch_jobs_page_fetches_its_modules_by_their_hashed_names(page: Page, live_app):
    responses = record_scripts(page)
    page.goto(f"{live_app.url}/batch-jobs/")
    expect(page.get_by_role("button", name="Submit job")).to_be_visible()
    fetched = chatapp_modules(responses)
    assert "chatapp/batch_jobs.js" in fetched and "chatapp/lib/api.js" in fetched
    assert set(fetched.values()) == {200}
