"""The release's version, as pyproject.toml states it (also listed in CHANGELOG.md)."""

import tomllib
from functools import cache
from importlib import metadata

from django.conf import settings


@cache
def version() -> str:
    # pyproject.toml first: an editable install's metadata keeps the version it was made with.
    try:
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as file:
            return tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return metadata.version("chatapp")
