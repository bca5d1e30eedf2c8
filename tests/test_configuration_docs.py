"""docs/configuration.md lists every environment variable config/settings.py reads; the README
keeps the few most deployments set, says how to get a staff account, and links to the rest."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READ = re.compile(r"env_(?:str|int|float|bool|list|pairs)\(\s*\"([A-Z0-9_]+)\"")
MOST_SET = ["ANTHROPIC_API_KEY", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
            "DATABASE_URL", "REDIS_URL"]


def documented(path: Path) -> set[str]:
    """The variables in the first column of a markdown table."""
    names = set()
    for line in path.read_text().splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_setting_read_from_the_environment_is_documented():
    read = set(READ.findall((ROOT / "config" / "settings.py").read_text()))
    assert {"METRICS_TOKEN", "CHATAPP_TRUSTED_PROXIES", "EMAIL_HOST"} <= read  # the pattern works
    assert read - documented(ROOT / "docs" / "configuration.md") == set()


def test_the_readme_keeps_only_the_most_set_and_says_how_to_reach_the_cost_review():
    readme = ROOT / "README.md"
    assert documented(readme) == set(MOST_SET)
    text = readme.read_text()
    assert "manage.py createsuperuser" in text and "/admin/costs/" in text
    assert "(docs/configuration.md)" in text
    for feature in ("**Thinking**", "**Tools**", "**Auto**", "Things to try"):
        assert feature in text
