"""One archive (tar.gz) with everything a site needs back: the database, the uploaded files
(MEDIA_ROOT) and the secret key (``manage.py backup FILE`` / ``manage.py restore FILE``).

The database is copied consistently while the app runs:

- SQLite: its online backup API, page by page, a snapshot of one moment even while replies
  are being written (WAL mode). Restored the same way, then migrated (an older backup is
  brought up to this release's schema).
- PostgreSQL: Django's ``dumpdata`` inside one REPEATABLE READ transaction, so every table is
  read as of the same moment. pg_dump would be faster, but its output only restores through a
  client of the server's major version, and not onto an install that ``migrate`` already
  filled; a fixture loads onto any migrated empty install (after ``flush``), in one
  transaction. Content types and permissions are left out (``migrate`` makes them; rows point
  at them by natural key). Restored onto the schema it was taken from: the applied migrations
  must be the backup's (the manifest lists them).

The database goes first, then the files: a file uploaded meanwhile is in the archive without
its row (harmless); one deleted meanwhile is missing (it was being deleted anyway).

The places and the key (MEDIA_ROOT, SECRET_KEY, VAR_DIR) are the settings' and are passed in
by the management commands.
"""

import copy
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder

from chatapp.operations.version import version

FORMAT = 1
MANIFEST = "manifest.json"
SECRET_KEY_FILE = "secret_key"
MEDIA = "media"
SQLITE_FILE = "database.sqlite3"
FIXTURE_FILE = "database.json"
# Made again by `migrate` on the target; rows refer to them by natural key.
NOT_DUMPED = ["contenttypes", "auth.permission"]


class BackupError(Exception):
    """What is wrong, in words for the operator."""


def _engine() -> str:
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups know SQLite and PostgreSQL, not {vendor}.")
    return vendor


def _applied_migrations() -> list[list[str]]:
    return sorted([app, name] for app, name in MigrationRecorder(connection).applied_migrations())


# --- backup ------------------------------------------------------------------------------------


def _sqlite_snapshot(target: Path) -> None:
    connection.ensure_connection()
    destination = sqlite3.connect(target)
    try:
        with destination:
            connection.connection.backup(destination)
    finally:
        destination.close()


def _postgresql_snapshot(target: Path) -> None:
    outermost = not connection.in_atomic_block  # else the caller's transaction decides
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:  # the transaction's first statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        call_command(
            "dumpdata", natural_foreign=True, natural_primary=True, use_base_manager=True,
            exclude=NOT_DUMPED, output=str(target), verbosity=0,
        )


def _private_file(path: Path) -> int:
    """A new file only its owner can read: the archive holds the secret key and all data."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def create(destination: Path, *, media_root: Path, secret_key: str) -> dict:
    """Write the archive to ``destination`` (atomically: a temporary file, then renamed) with
    the database, the files under ``media_root`` and ``secret_key``; returns its manifest."""
    engine = _engine()
    destination = Path(destination).resolve()
    with tempfile.TemporaryDirectory(prefix="chatapp-backup-") as scratch:
        work = Path(scratch)
        database = work / (SQLITE_FILE if engine == "sqlite" else FIXTURE_FILE)
        (_sqlite_snapshot if engine == "sqlite" else _postgresql_snapshot)(database)
        manifest = {
            "format": FORMAT,
            "app_version": version(),
            "engine": engine,
            "database": database.name,
            "created_at": datetime.now(UTC).isoformat(),
            "migrations": _applied_migrations(),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2))
        secret = work / SECRET_KEY_FILE
        os.close(_private_file(secret))
        secret.write_text(secret_key)
        partial = destination.with_name(destination.name + ".partial")
        with os.fdopen(_private_file(partial), "wb") as raw, tarfile.open(
            fileobj=raw, mode="w:gz"
        ) as archive:
            archive.add(work / MANIFEST, MANIFEST)
            archive.add(database, database.name)
            archive.add(secret, SECRET_KEY_FILE)
            media = Path(media_root)
            archive.add(media if media.is_dir() else work, MEDIA, filter=_media_only)
        partial.replace(destination)
    return manifest


def _media_only(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Directories and regular files; nothing else (links, devices) belongs in uploads."""
    if member.name == MEDIA:
        return member
    return member if member.isfile() or member.isdir() else None


# --- restore -----------------------------------------------------------------------------------


@contextmanager
def _opened(source: Path) -> Iterator[tuple[tarfile.TarFile, dict]]:
    try:
        archive = tarfile.open(source, "r:gz")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f"{source} is not a chatapp backup: {error}") from None
    with archive:
        try:
            manifest = json.load(archive.extractfile(MANIFEST))
        except (KeyError, ValueError, tarfile.TarError):
            raise BackupError(f"{source} has no readable {MANIFEST}: not a backup.") from None
        if manifest.get("format") != FORMAT:
            raise BackupError(f"Backup format {manifest.get('format')} is not {FORMAT}.")
        yield archive, manifest


def _refuse_unless_empty() -> None:
    if get_user_model().objects.exists():
        raise BackupError(
            "This install already has users. Restore onto an empty install: a new database "
            "that `manage.py migrate` made, nothing else."
        )


def _restore_sqlite(database: Path) -> None:
    source = sqlite3.connect(database)
    connection.ensure_connection()
    try:
        source.backup(connection.connection)
    finally:
        source.close()
    connection.close()  # the next query sees the restored schema afresh
    call_command("migrate", interactive=False, verbosity=0)  # an older backup: brought up


def _restore_postgresql(fixture: Path, manifest: dict) -> None:
    ours = _applied_migrations()
    if ours != manifest["migrations"]:
        theirs = {tuple(pair) for pair in manifest["migrations"]}
        differ = sorted({tuple(pair) for pair in ours} ^ theirs)
        raise BackupError(
            "This install's schema is not the backup's: migrate it to the backup's migrations "
            f"first (they differ in {', '.join('.'.join(pair) for pair in differ[:5])})."
        )
    with transaction.atomic():  # all or nothing
        call_command("flush", interactive=False, verbosity=0)  # rows the migrations seeded
        call_command("loaddata", str(fixture), verbosity=0)


def _restore_media(archive: tarfile.TarFile, media_root: Path) -> int:
    media = Path(media_root)
    media.mkdir(parents=True, exist_ok=True)
    files = 0
    for member in archive.getmembers():
        if not member.name.startswith(MEDIA + "/") or not member.isfile():
            continue
        member = copy.copy(member)
        member.name = member.name.removeprefix(MEDIA + "/")
        archive.extract(member, media, filter="data")  # refuses absolute paths and ../
        files += 1
    return files


def _restore_secret_key(archive: tarfile.TarFile, var_dir: Path) -> str:
    """Where the backup's secret key now is, and whether the environment overrides it."""
    key = archive.extractfile(SECRET_KEY_FILE).read().decode().strip()
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        if from_env == key:
            return "SECRET_KEY in the environment is the backup's."
        return ("WARNING: SECRET_KEY in the environment is not the backup's; set it to the "
                "backup's (file secret_key in the archive) or sessions and reset links break.")
    path = Path(var_dir) / "secret_key"
    with os.fdopen(_private_file(path), "w") as file:
        file.write(key)
    return f"The backup's secret key is in {path}; restart the server to use it."


def restore(source: Path, *, media_root: Path, var_dir: Path) -> list[str]:
    """Put the archive's database, files (under ``media_root``) and secret key (in
    ``var_dir``, unless the environment sets one) onto this (empty) install; returns what was
    done, line by line."""
    engine = _engine()
    with _opened(Path(source)) as (archive, manifest):
        if manifest["engine"] != engine:
            raise BackupError(
                f"This backup is of a {manifest['engine']} database; this install uses {engine}."
            )
        _refuse_unless_empty()
        with tempfile.TemporaryDirectory(prefix="chatapp-restore-") as scratch:
            name = manifest["database"]
            archive.extract(archive.getmember(name), scratch, filter="data")
            database = Path(scratch) / name
            if engine == "sqlite":
                _restore_sqlite(database)
            else:
                _restore_postgresql(database, manifest)
        files = _restore_media(archive, media_root)
        key = _restore_secret_key(archive, var_dir)
    return [
        f"Database restored from a backup of {manifest['created_at']} "
        f"(chatapp {manifest['app_version']}).",
        f"{files} uploaded file(s) restored to {media_root}.",
        key,
    ]
