from django.conf import settings
from django.http import HttpRequest


def upstream(request: HttpRequest) -> dict[str, bool]:
    """Every page says so when replies come from the offline stand-in, not from Claude."""
    return {"offline_upstream": settings.OFFLINE_UPSTREAM}
