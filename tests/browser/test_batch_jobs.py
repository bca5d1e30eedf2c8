"""The Batch jobs page in real Chromium: upload documents, submit a job, watch it finish, download
the CSV, and open an answer as a conversation. The batch poller runs beside the server, as
`make run` starts it; the offline upstream answers a batch within a second here."""

import csv
import re

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, STAFF_USERNAME

PROMPT = "Who pays the rent?"


def test_submit_a_job_watch_it_finish_and_download_the_csv(page, live_app, tmp_path):
    live_app.upstream.set_batch_seconds(1)
    files = []
    for n in range(3):
        path = tmp_path / f"lease-{n}.txt"
        path.write_text(f"Lease {n}. The tenant pays the rent on the first of the month.")
        files.append(str(path))

    page.get_by_role("link", name="Batch jobs").click()
    page.wait_for_url(f"{live_app.url}/batch-jobs/")
    page.set_input_files("#upload-input", files)
    expect(page.locator("#upload-status")).to_have_text("Uploaded 3 of 3.")
    expect(page.locator("#documents input:checked")).to_have_count(3)
    page.get_by_label("Prompt").fill(PROMPT)
    expect(page.locator("#estimate")).to_contain_text("at batch prices")
    expect(page.locator("#estimate")).to_contain_text("3 documents")

    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(re.compile(r"/batch-jobs/\d+/$"))
    expect(page.locator("#job-status")).to_have_text("Finished", timeout=30_000)
    expect(page.locator('[data-count="succeeded"]')).to_have_text("3")
    rows = page.locator("#job-items tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(f'You asked: "{PROMPT}"')
    expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), newline="") as handle:
        table = list(csv.DictReader(handle))
    assert sorted(row["document"] for row in table) == ["lease-0.txt", "lease-1.txt",
                                                         "lease-2.txt"]
    assert {row["status"] for row in table} == {"succeeded"}
    assert all(PROMPT in row["answer"] for row in table)
    # Money in the one form every CSV uses (chatapp.billing.money.csv_usd): dollars to 8
    # places.
    assert all(re.fullmatch(r"\d+\.\d{8}", row["cost_usd"]) for row in table), table

    rows.first.get_by_role("button", name="Ask a follow-up").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("#messages")).to_contain_text(f'You asked: "{PROMPT}"')


def test_a_job_over_the_budget_is_refused_on_the_page_in_the_apis_words(
    browser, live_app, tmp_path
):
    """The staff user (kept apart from the demo user other tests use) gets a budget of one cent
    in the admin; a job whose worst case is more is refused before anything is stored."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live_app.url}/admin/login/?next=/")
    page.get_by_label("Username").fill(STAFF_USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_app.url}/")
    page.goto(f"{live_app.url}/admin/chatapp/budget/add/")
    # The user is picked by name as one types (the admin's autocomplete), not by a raw id.
    page.locator("#id_user + .select2").click()
    page.locator(".select2-search__field").fill(STAFF_USERNAME)
    page.locator(".select2-results__option", has_text=STAFF_USERNAME).click()
    page.locator("#id_monthly_usd").fill("0.01")
    page.get_by_role("button", name="Save", exact=True).click()
    budget = page.locator("#result_list tbody a", has_text="$0.01").first.get_attribute("href")
    try:
        path = tmp_path / "lease.txt"
        path.write_text("Lease. The tenant pays the rent on the first of the month.")
        page.goto(f"{live_app.url}/batch-jobs/")
        page.set_input_files("#upload-input", [str(path)])
        expect(page.locator("#upload-status")).to_have_text("Uploaded 1 of 1.")
        page.get_by_label("Prompt").fill(PROMPT)
        expect(page.locator("#estimate")).to_contain_text("at batch prices")
        page.get_by_role("button", name="Submit job").click()
        banner = page.locator("#banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text(re.compile(
            r"^This batch job could cost up to \$0\.\d\d, and \$0\.01 of your monthly budget of "
            r"\$0\.01 is left\. Choose fewer documents"
        ))
        assert page.url == f"{live_app.url}/batch-jobs/"  # still composing, nothing lost
        expect(page.get_by_label("Prompt")).to_have_value(PROMPT)
    finally:
        page.goto(live_app.url + budget.replace("/change/", "/delete/"))
        page.locator('form input[type="submit"]').click()  # "Yes, I'm sure"
        expect(page.locator("#result_list tbody a", has_text="$0.01")).to_have_count(0)
        context.close()


def test_answers_leave_tokens_cost_and_the_follow_up_in_view_at_1280_px(page, live_app,
                                                                       tmp_path):
    """An answer with a code block used to widen the Answer column until Tokens, Cost and
    "Ask a follow-up" were scrolled off to the right."""
    live_app.upstream.set_batch_seconds(1)
    path = tmp_path / "lease.txt"
    path.write_text("Lease. The tenant pays the rent on the first of the month.")
    page.goto(f"{live_app.url}/batch-jobs/")
    page.set_input_files("#upload-input", [str(path)])
    expect(page.locator("#upload-status")).to_have_text("Uploaded 1 of 1.")
    page.get_by_label("Prompt").fill(PROMPT)
    expect(page.locator("#estimate")).to_contain_text("at batch prices")
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(re.compile(r"/batch-jobs/\d+/$"))
    expect(page.locator("#job-status")).to_have_text("Finished", timeout=30_000)
    row = page.locator("#job-items tr").first
    expect(row.locator("pre")).to_have_count(1)  # the offline answer's code block

    assert page.viewport_size["width"] == 1280
    wrap = page.locator(".batch-table-wrap").bounding_box()
    visible_right = min(1280, wrap["x"] + wrap["width"])
    cells = {"tokens": row.locator("td").nth(2), "cost": row.locator("td").nth(3),
             "follow-up": row.get_by_role("button", name="Ask a follow-up")}
    for name, cell in cells.items():
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= visible_right, (name, box, wrap)
    # Nothing to scroll sideways, on the page or in the table.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator(".batch-table-wrap").evaluate("e => e.scrollWidth <= e.clientWidth")


def test_the_batch_jobs_page_leads_back_to_the_chat(page, live_app):
    page.goto(f"{live_app.url}/batch-jobs/")
    page.get_by_role("link", name="← Back to the chat").click()
    page.wait_for_url(f"{live_app.url}/")
    expect(page.get_by_role("textbox", name="Message Claude")).to_be_visible()
