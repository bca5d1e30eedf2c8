from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatapp.audit import retention


class Command(BaseCommand):
    help = (
        "Delete audit entries older than CHATAPP_AUDIT_RETENTION_DAYS days (0 keeps them all). "
        "Run it daily, e.g. from cron (docs/operations.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=None,
            help="Keep this many days instead of CHATAPP_AUDIT_RETENTION_DAYS (0 keeps all).",
        )

    def handle(self, *args, **options):
        days = options["days"]
        if days is not None and days < 0:
            raise CommandError("--days must be 0 or more.")
        days = settings.CHATAPP_AUDIT_RETENTION_DAYS if days is None else days
        if days == 0:
            self.stdout.write("Audit entries are kept forever (retention 0): nothing pruned.")
            return
        removed = retention.prune(days)
        self.stdout.write(f"Pruned {removed} audit entries older than {days} days.")
