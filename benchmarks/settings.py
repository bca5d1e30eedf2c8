"""The app's own settings plus the write counter (benchmarks/write_log.py), for benchmarks.

`BENCH_CONN_MAX_AGE` (seconds) overrides the database connections' lifetime and turns the
PostgreSQL pool off, to compare with other choices (`BENCH_CONN_MAX_AGE=0`: a connection per ORM
call, as before the app kept them); unset, the app's own settings are measured.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.write_log.WriteLogConfig"]
if os.environ.get("BENCH_CONN_MAX_AGE"):
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
