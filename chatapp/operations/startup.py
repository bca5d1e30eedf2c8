"""Start-up work that `make run` does only when it is needed (docs/operations.md, "Start-up")."""

from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_if_needed() -> int:
    """Apply pending migrations, if any; returns how many were pending. Reading the plan takes
    a fraction of a second in this process, where `manage.py migrate` would be a whole Python
    start (seconds: the app's imports) on every `make run`."""
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        call_command("migrate", interactive=False, verbosity=0)
    return len(pending)
