from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatapp.operations import backup


class Command(BaseCommand):
    help = (
        "Write one archive (tar.gz) with the database, the uploaded files and the secret key, "
        "consistent while the app runs (docs/operations.md, Backups)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the archive to write, e.g. backup.tar.gz")

    def handle(self, *args, **options):
        try:
            manifest = backup.create(
                options["file"], media_root=settings.MEDIA_ROOT, secret_key=settings.SECRET_KEY
            )
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Backed up the {manifest['engine']} database, the uploaded files and the secret key "
            f"to {options['file']} (readable by its owner only: it holds the secret key)."
        )
