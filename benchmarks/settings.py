"""The app's own settings plus the write counter (benchmarks/write_log.py), for benchmarks."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.write_log.WriteLogConfig"]
