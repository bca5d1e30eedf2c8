"""Projects in the chat page, as a team uses them (issue 20): the owner creates a project,
uploads a contract and shares it; a colleague sees it in the sidebar, starts a chat in it and
asks about the contract; the owner's older chat says the project has changed once a second
document is added, and offers a new chat in it.

Real Chromium, a real daphne server, the offline upstream (fixtures: tests/browser/conftest.py;
its request log shows what was sent to Claude). Every wait is one of Playwright's expect()s.
"""

import json
import re
import uuid
from dataclasses import replace

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import MEMBER_USERNAME
from tests.browser.test_chat_page import (
    no_script_errors,  # noqa: F401 (autouse fixture: any script error fails the test)
)
from tests.browser.test_comforts import serious_violations
from tests.files import LEASE, make_pdf

pytestmark = pytest.mark.browser

CONTRACT = "contract.pdf"


def ask(page: Page, question: str) -> None:
    box = page.get_by_role("textbox", name="Message Claude")
    box.fill(question)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    box.press("Enter")


def finished_replies(page: Page):
    return page.locator("#messages .msg-assistant[data-status=complete]")


def project_dialog(page: Page, name: str):
    dialog = page.get_by_role("dialog", name=name)
    expect(dialog).to_be_visible()
    expect(dialog.locator("#project-status")).not_to_contain_text("…")
    return dialog


def open_project(page: Page, name: str):
    page.get_by_role("list", name="Projects").get_by_role("button", name=name, exact=True).click()
    return project_dialog(page, name)


def test_a_project_is_created_shared_and_asked_about_by_a_member(page: Page, live_app, browser):
    name = f"Lease review {uuid.uuid4().hex[:6]}"
    page.goto(f"{live_app.url}/")

    # The owner creates the project, adds the contract and shares it.
    page.get_by_role("button", name="New project").click()
    create = page.get_by_role("dialog", name="New project")
    create.get_by_label("Name").fill(name)
    create.get_by_label("Instructions").fill("Answer as a careful contract lawyer.")
    create.get_by_role("button", name="Create project").click()
    dialog = project_dialog(page, name)
    expect(dialog).to_contain_text("your role: Owner")
    expect(dialog).to_contain_text("No documents yet.")
    expect(dialog.get_by_label("Add a document")).to_be_visible()  # the owner may edit
    dialog.get_by_label("Add a document").set_input_files(
        {"name": CONTRACT, "mimeType": "application/pdf", "buffer": make_pdf(LEASE)})
    documents = dialog.get_by_role("list", name="Documents")
    expect(documents.get_by_role("listitem")).to_have_count(1)
    expect(documents).to_contain_text(CONTRACT)
    expect(documents).to_contain_text("3 pages")
    dialog.get_by_label("Share with (username)").fill(MEMBER_USERNAME)
    dialog.get_by_label("Role").select_option("use")
    dialog.get_by_role("button", name="Share").click()
    expect(dialog.locator("#project-status")).to_have_text(f"Shared with {MEMBER_USERNAME} (Use).")
    expect(dialog.get_by_role("list", name="Members")).to_contain_text(f"{MEMBER_USERNAME} · Use")
    assert serious_violations(page) == []

    # The owner's own chat in the project, asked before the project changes.
    dialog.get_by_role("button", name="New chat in this project").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name=f"Project: {name}")).to_be_visible()
    ask(page, "What is the monthly rent?")
    expect(finished_replies(page)).to_have_count(1)
    older = page.url

    # The member, in a browser of their own, finds the project and asks about the contract.
    member_context = browser.new_context(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    member_context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        member = member_context.new_page()
        replace(live_app, username=MEMBER_USERNAME).login(member)
        shared = open_project(member, name)
        expect(shared).to_contain_text("Shared by demo · your role: Use")
        expect(shared.get_by_role("list", name="Documents")).to_contain_text(CONTRACT)
        expect(shared.get_by_label("Add a document")).to_be_hidden()  # "use" reads, does not edit
        expect(shared.get_by_label("Share with (username)")).to_be_hidden()
        shared.get_by_role("button", name="New chat in this project").click()
        expect(member.get_by_role("button", name=f"Project: {name}")).to_be_visible()
        ask(member, "What is the monthly rent the tenant must pay?")
        expect(finished_replies(member)).to_have_count(1)
        reply = finished_replies(member).first
        reply.get_by_role("button", name="Source 1").click()
        source = reply.locator("details.cite-source")
        expect(source.locator("summary")).to_have_text(f"[1] {CONTRACT}, page 2")
        expect(source.locator("blockquote")).to_contain_text("monthly rent of 1,200 euros")
        expect(member.locator("#project-note")).to_be_hidden()
    finally:
        member_context.close()
    assert not errors, f"script errors in the member's page: {errors}"
    # What went to Claude for the member's question (not the title's request): the project's
    # instructions, then its contract opening the first turn.
    asked = [r["body"] for r in live_app.upstream.requests()
             if r["path"] == "/v1/messages"
             and "careful contract lawyer" in json.dumps(r["body"].get("system"))
             and "the tenant must pay" in json.dumps(r["body"]["messages"])]
    assert asked, "the member's question never reached the upstream"
    first_turn = asked[-1]["messages"][0]["content"]
    assert any(block.get("type") == "document" and block.get("title") == CONTRACT
               for block in first_turn), first_turn

    # A second document: the owner's older chat goes on with what it began with, and says so.
    expect(page.locator("#project-note")).to_be_hidden()
    page.get_by_role("button", name=f"Project: {name}").click()
    dialog = project_dialog(page, name)
    expect(dialog.get_by_label("Add a document")).to_be_visible()
    dialog.get_by_label("Add a document").set_input_files(
        {"name": "addendum.txt", "mimeType": "text/plain",
         "buffer": b"Addendum: the rent is due on the fifth day of each month."})
    expect(dialog.get_by_role("list", name="Documents").get_by_role("listitem")).to_have_count(2)
    dialog.get_by_role("button", name="Close").click()
    note = page.locator("#project-note")
    expect(note).to_contain_text("This project has changed since this chat started")
    page.goto(older)  # read afresh, it says the same
    expect(note).to_contain_text("This project has changed since this chat started")
    note.get_by_role("button", name=f"New chat in {name}").click()
    expect(page).not_to_have_url(older)
    expect(page.get_by_role("button", name=f"Project: {name}")).to_be_visible()
    expect(note).to_be_hidden()
    assert re.search(r"/c/\d+/$", page.url)
