"""The app's own settings plus the write counter (benchmarks/write_log.py), for benchmarks.

`BENCH_CONN_MAX_AGE` (seconds) overrides the database connections' lifetime, to measure what
keeping connections open would save; unset, the app's own setting is measured.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.write_log.WriteLogConfig"]
if os.environ.get("BENCH_CONN_MAX_AGE"):
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
