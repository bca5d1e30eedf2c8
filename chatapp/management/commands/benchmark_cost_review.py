"""Time the admin cost review on whatever data the database holds.

    python manage.py generate_usage --messages 1000000
    python manage.py benchmark_cost_review --start 2026-10-01 --end 2026-12-31

Renders the page (with the strategy comparison), the CSV export and each of the page's
queries through Django's test client as a staff user, several times, and prints the best and
median wall-clock times. Results go in docs/benchmarks.md with the command that made them.
"""

import statistics
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from chatapp.cost_review import queries as costs
from chatapp.cost_review import strategies
from chatapp.cost_review.chart import build_chart
from chatapp.cost_review.date_ranges import DateRange
from chatapp.models import Message, UsageRecord

STAFF = "benchmark-staff"


def _timed(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        runs.append(time.perf_counter() - began)
    return min(runs), statistics.median(runs)


class Command(BaseCommand):
    help = "Time the cost review page, its CSV and its queries on the current database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", help="YYYY-MM-DD (default: the 1st of this month)")
        parser.add_argument("--end", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, **options) -> None:
        period = DateRange.parse(options["start"], options["end"])
        query = f"start={period.start}&end={period.end}"
        staff, _ = get_user_model().objects.get_or_create(
            username=STAFF, defaults={"is_staff": True, "is_superuser": True}
        )
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(staff)
        in_range = costs.usage_between(period).count()
        self.stdout.write(
            f"{connection.vendor}: {Message.objects.count():,} messages, "
            f"{UsageRecord.objects.count():,} usage records, {in_range:,} in "
            f"{period.start} – {period.end}; best / median of {options['repeat']}"
        )

        def page() -> None:
            assert client.get(f"/admin/costs/?{query}").status_code == 200

        def export() -> None:
            response = client.get(f"/admin/costs/export.csv?{query}")
            b"".join(response.streaming_content)

        checks = {
            "page /admin/costs/ (all of it)": page,
            "CSV export": export,
            "  per-user table (first page)": lambda: list(costs.per_user(period)[:100]),
            "  totals": lambda: costs.totals(period),
            "  per-model table": lambda: list(costs.per_model(period)),
            "  per-day chart": lambda: build_chart(costs.cost_by_day_and_model(period),
                                                   period.days),
            "  strategy comparison": lambda: strategies.compare_strategies(period),
        }
        # Static files are not collected for this run; the page links them by name only.
        plain = {"staticfiles": {"BACKEND":
                                 "django.contrib.staticfiles.storage.StaticFilesStorage"}}
        with override_settings(STORAGES={**self._storages(), **plain}):
            for label, work in checks.items():
                best, median = _timed(work, options["repeat"])
                self.stdout.write(f"{label:<34} {best * 1000:8.0f} ms {median * 1000:8.0f} ms")

    @staticmethod
    def _storages() -> dict:
        from django.conf import settings

        return dict(settings.STORAGES)
