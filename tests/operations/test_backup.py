"""manage.py backup / restore: one archive with the database, the uploaded files and the secret
key, restored onto an empty install (a fresh database `migrate` made, in processes of its own).
Runs on SQLite in the embedded pass and on PostgreSQL (a database of its own) in the other."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection

from chatapp.operations import backup
from tests.factories import make_conversation, make_exchange, make_text_document, make_user

pytestmark = pytest.mark.django_db(transaction=True)
MANAGE = str(Path(django_settings.BASE_DIR) / "manage.py")

# Read back in the restored install: what a user would find again.
READ_BACK = """
import json
from django.contrib.auth import get_user_model
from chatapp.models import Attachment, Conversation
alice = get_user_model().objects.get(username="alice")
conversation = Conversation.objects.get(owner=alice)
document = Attachment.objects.get(owner=alice)
print(json.dumps({
    "password": alice.password,  # the hash: she logs in with the same password
    "title": conversation.title,
    "texts": [m.text for m in conversation.messages.order_by("pk")],
    "document": document.original.read().decode(),
    "models": sorted(set(__import__("chatapp.models").models.ClaudeModel.objects
                         .values_list("pk", flat=True)))[:3],
}))
"""


@pytest.fixture
def target_database_url(tmp_path):
    """An empty database for the restored install: a file on SQLite; on PostgreSQL a database
    of its own on the same server, dropped afterwards."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    import psycopg

    name = f"chatapp_restore_test_{os.getpid()}"
    params = connection.get_connection_params()
    admin = {key: params[key] for key in ("host", "port", "user", "password") if params.get(key)}
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}"')
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    yield url
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _install(tmp_path, database_url) -> tuple[dict, Path]:
    """The environment of an empty install of its own (database, var/, media), and its var/."""
    var = tmp_path / "restored-var"
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MEDIA_ROOT")}
    env.update(DATABASE_URL=database_url, CHATAPP_VAR_DIR=str(var),
               MEDIA_ROOT=str(tmp_path / "restored-media"))
    return env, var


def _manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, MANAGE, *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_backup_restores_onto_an_empty_install(settings, tmp_path, target_database_url):
    settings.MEDIA_ROOT = tmp_path / "media"
    alice = make_user("alice")
    conversation = make_conversation(owner=alice, title="Lease review")
    make_exchange(conversation, "Is the lease fine?", "Clause 4 needs a look.")
    document = make_text_document(alice, "The tenant pays the rent monthly.")
    archive = tmp_path / "site.tar.gz"

    call_command("backup", str(archive), verbosity=0)

    assert archive.stat().st_mode & 0o077 == 0  # it holds the secret key: the owner's only
    with tarfile.open(archive) as opened:
        names = opened.getnames()
        assert json.load(opened.extractfile("manifest.json"))["engine"] == connection.vendor
        assert opened.extractfile("secret_key").read().decode() == settings.SECRET_KEY
    assert f"media/{document.original.name}" in names

    env, var = _install(tmp_path, target_database_url)
    assert _manage(env, "migrate", "--noinput").returncode == 0
    restored = _manage(env, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "1 uploaded file(s) restored" in restored.stdout

    found = _manage(env, "shell", "-c", READ_BACK)
    assert found.returncode == 0, found.stderr
    read = json.loads(found.stdout.strip().splitlines()[-1])
    assert read | {"models": None} == {
        "password": alice.password,
        "title": "Lease review",
        "texts": ["Is the lease fine?", "Clause 4 needs a look."],
        "document": "The tenant pays the rent monthly.",
        "models": None,
    }
    assert read["models"]  # the catalog came back too
    assert (var / "secret_key").read_text() == settings.SECRET_KEY
    assert (var / "secret_key").stat().st_mode & 0o077 == 0

    # A second restore would mix two sites: refused, nothing changed.
    again = _manage(env, "restore", str(archive))
    assert again.returncode != 0
    assert "already has users" in again.stderr


def test_a_file_that_is_not_a_backup_is_refused(tmp_path):
    bogus = tmp_path / "notes.tar.gz"
    bogus.write_bytes(b"not an archive")
    with pytest.raises(backup.BackupError, match="not a chatapp backup"):
        backup.restore(bogus, media_root=tmp_path / "media", var_dir=tmp_path / "var")


def _conversations_and_their_messages(archive: Path, tmp_path: Path) -> tuple[set, set]:
    """Conversation ids, and the conversation ids messages point at, as the archive has them."""
    with tarfile.open(archive) as opened:
        manifest = json.load(opened.extractfile("manifest.json"))
        opened.extract(manifest["database"], tmp_path, filter="data")
    database = tmp_path / manifest["database"]
    if manifest["engine"] == "sqlite":
        import sqlite3

        with sqlite3.connect(database) as db:
            conversations = {row[0] for row in db.execute("SELECT id FROM chatapp_conversation")}
            pointed = {row[0] for row in db.execute("SELECT conversation_id FROM chatapp_message")}
        return conversations, pointed
    rows = json.loads(database.read_text())
    conversations = {row["pk"] for row in rows if row["model"] == "chatapp.conversation"}
    pointed = {row["fields"]["conversation"] for row in rows if row["model"] == "chatapp.message"}
    return conversations, pointed


def test_a_backup_taken_while_conversations_are_written_is_one_moment(settings, tmp_path):
    """A writer keeps adding conversations with their messages (each in one transaction) while
    the backup runs: every message in the archive has its conversation there too. Tables read
    at different moments (PostgreSQL without REPEATABLE READ) would hold messages of
    conversations the archive does not have."""
    import threading

    from django.db import close_old_connections, connections, transaction

    settings.MEDIA_ROOT = tmp_path / "media"
    owner = make_user()
    for number in range(200):  # enough rows that dumping them takes a while
        make_exchange(make_conversation(owner=owner), f"Question {number}", f"Answer {number}")
    started, stop = threading.Event(), threading.Event()
    written = []

    def write() -> None:
        try:
            while not stop.is_set():
                with transaction.atomic():
                    conversation = make_conversation(owner=owner)
                    make_exchange(conversation, "Written during the backup", "Yes")
                written.append(conversation.pk)
                started.set()
        finally:
            close_old_connections()
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert started.wait(30)
        call_command("backup", str(tmp_path / "site.tar.gz"), verbosity=0)
    finally:
        stop.set()
        writer.join(30)
    conversations, pointed = _conversations_and_their_messages(tmp_path / "site.tar.gz", tmp_path)
    assert pointed <= conversations
    assert len(conversations) >= 200
    assert len(written) > 1  # the writer did write while the backup ran
