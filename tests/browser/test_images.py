"""Images in the chat page, as a person uses them: attach pictures, read their size and token
estimate, follow a change of model, remove one, send, and open the full image.

Real Chromium, a real daphne server, the offline upstream (whose replies say how many image
blocks the request carried). Every wait is one of Playwright's expect()s or wait_for_function.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.image_files import WHITE, camera_photo, encode, halves

pytestmark = pytest.mark.browser

# A 2000 × 1000 px screenshot uploaded for a high-tier model is kept whole: ⌈2000/28⌉ ×
# ⌈1000/28⌉ = 72 × 36 tokens. A standard-tier model would see it at 1516 × 758: 55 × 28.
SCREENSHOT = encode(halves((2000, 1000), top=WHITE, bottom=(30, 30, 30)), "PNG")
HIGH_TIER_TOKENS, STANDARD_TIER_TOKENS = "2,592", "1,540"


@pytest.fixture(autouse=True)
def no_script_errors(page: Page):
    errors: list[str] = []
    page.context.on("weberror", lambda error: errors.append(str(error.error)))
    yield
    assert not errors, f"script errors in the page: {errors}"


def card(page: Page, name: str):
    return page.locator(".attachment-card", has_text=name)


def loaded(page: Page, selector: str) -> None:
    """Wait until the image at ``selector`` has really been decoded by the browser."""
    page.wait_for_function(
        "s => { const img = document.querySelector(s); return img && img.naturalWidth > 0; }",
        arg=selector,
    )


def test_attach_images_see_their_tokens_send_one_and_open_it(page: Page, live_app):
    page.goto(f"{live_app.url}/")
    # The composer's picker (the settings dialogs' own are hidden); Opus 4.7: high image tier.
    page.get_by_role("combobox", name="Model", exact=True).select_option(label="Claude Opus 4.7")
    page.locator("#attach-input").set_input_files([
        {"name": "screen.png", "mimeType": "image/png", "buffer": SCREENSHOT},
        {"name": "holiday.jpg", "mimeType": "image/jpeg", "buffer": camera_photo(orientation=6)},
    ])

    screen = card(page, "screen.png")
    expect(screen).to_contain_text(
        f"2,000 × 1,000 px · about {HIGH_TIER_TOKENS} tokens on Claude Opus 4.7"
    )
    expect(screen.locator("img.attachment-thumb")).to_be_visible()
    expect(screen.get_by_role("img", name="screen.png")).to_be_visible()  # its alt: the name
    loaded(page, ".attachment-card[data-name='screen.png'] img.attachment-thumb")
    # The phone photo is shown upright: 40 px wide, 60 px high, 2 × 3 patches.
    expect(card(page, "holiday.jpg")).to_contain_text("40 × 60 px · about 6 tokens")

    # The page re-lists the attachments after a change of model; wait for that list.
    with page.expect_response(
        lambda answer: answer.url.endswith("/attachments/") and answer.request.method == "GET"
    ):
        picker = page.get_by_role("combobox", name="Model", exact=True)
        picker.select_option(label="Claude Sonnet 4.6")  # standard tier
    expect(screen).to_contain_text(f"about {STANDARD_TIER_TOKENS} tokens on Claude Sonnet 4.6")

    page.get_by_role("button", name="Remove holiday.jpg").click()
    expect(page.locator(".attachment-card")).to_have_count(1)

    box = page.get_by_role("textbox", name="Message Claude")
    box.fill("What does this screen show?")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    box.press("Enter")

    reply = page.locator("#messages .msg-assistant[data-status=complete]")
    expect(reply).to_have_count(1, timeout=15_000)
    expect(reply).to_contain_text("1 image block")  # the screenshot reached Claude; the photo not
    expect(page.locator("#attachment-tray")).to_be_hidden()
    chip = page.get_by_role("button", name="Open image screen.png")
    expect(chip).to_be_visible()
    loaded(page, ".msg-user .attachment-chip.is-image img")

    chip.click()
    dialog = page.locator("#image-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#image-title")).to_have_text("screen.png")
    # The full image, not a thumbnail (a property check: the page's CSP forbids eval'd code).
    expect(page.locator("#image-view")).to_have_js_property("naturalWidth", 2000)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".msg-user .attachment-chip")).to_have_count(1)
    expect(page.locator(".msg-user")).not_to_contain_text(re.compile("holiday"))
    # A picture is a file of the conversation, not a "document".
    expect(page.get_by_role("button", name="Files (1)")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Documents"))).to_have_count(0)
