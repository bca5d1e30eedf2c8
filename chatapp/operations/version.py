"""The release's version, as pyproject.toml states it (also listed in CHANGELOG.md)."""

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

# The checkout's own pyproject.toml (BASE_DIR's): chatapp/operations/version.py is three below.
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@cache
def version() -> str:
    # pyproject.toml first: an editable install's metadata keeps the version it was made with.
    try:
        with open(PYPROJECT, "rb") as file:
            return tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return metadata.version("chatapp")
