"""The JSON API from a test, as the logged-in user of a page (its cookies and CSRF token)."""

from urllib.parse import urljoin

from playwright.sync_api import Page


def create_conversation(page: Page, title: str) -> dict:
    """A conversation stored through POST /api/conversations/ (as the page's Import does)."""
    token = next(c["value"] for c in page.context.cookies(page.url) if c["name"] == "csrftoken")
    response = page.request.post(
        urljoin(page.url, "/api/conversations/"),
        data={"title": title},
        headers={"X-CSRFToken": token},
    )
    assert response.status == 201, response.text()
    return response.json()
