"""Groups (issue 21) in a real browser: staff give a group a budget and a list of models in
the admin; a member's composer names the group's budget and offers only the allowed models."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, STAFF_USERNAME

pytestmark = pytest.mark.browser


def test_a_groups_budget_and_models_reach_its_members_composer(browser, live_app):
    """The staff user (kept apart from the demo user other tests use) joins a group made in
    the admin with a whole-group budget and one allowed model; the group is deleted after."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live_app.url}/admin/login/?next=/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_app.url}/")

    page.goto(f"{live_app.url}/admin/auth/group/add/")
    page.locator("#id_name").fill("Legal")
    page.locator("#id_policy-0-monthly_limit_usd").fill("40")
    page.locator("#id_policy-0-allowed_models_from").select_option(label="Claude Haiku 4.5")
    page.locator("#id_policy-0-allowed_models_add").click()
    page.get_by_role("button", name="Save", exact=True).click()
    group = page.locator("#result_list tbody a", has_text="Legal").first.get_attribute("href")
    try:
        expect(page.locator("#result_list tbody tr", has_text="Legal")).to_contain_text(
            "1 allowed"
        )
        page.goto(f"{live_app.url}/admin/auth/user/?q={STAFF_USERNAME}")
        page.locator("#result_list tbody a", has_text=STAFF_USERNAME).first.click()
        page.locator("#id_groups_from").select_option(label="Legal")
        page.locator("#id_groups_add").click()
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

        page.goto(f"{live_app.url}/")
        expect(page.locator("#budget-status")).to_have_text(re.compile(
            r"^This month: \$\d+\.\d{2} of \$40\.00 · \$\d+\.\d{2} left "
            r"\(the monthly budget of the group Legal\)$"
        ))
        offered = page.locator("#model-select option").all_inner_texts()
        assert "Claude Haiku 4.5" in offered
        assert not any(text.startswith(("Claude Opus", "Claude Sonnet")) for text in offered)
    finally:
        page.goto(live_app.url + group.replace("/change/", "/delete/"))
        page.locator('form input[type="submit"]').click()  # "Yes, I'm sure"
        expect(page.locator("#result_list tbody a", has_text="Legal")).to_have_count(0)
        context.close()
