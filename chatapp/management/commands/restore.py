from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatapp.operations import backup


class Command(BaseCommand):
    help = (
        "Restore an archive made by `manage.py backup` onto an empty install (a new database "
        "`manage.py migrate` made): database, uploaded files, secret key."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the archive `manage.py backup` wrote")

    def handle(self, *args, **options):
        try:
            done = backup.restore(
                options["file"], media_root=settings.MEDIA_ROOT, var_dir=settings.VAR_DIR
            )
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        for line in done:
            self.stdout.write(line)
