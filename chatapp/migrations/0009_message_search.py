"""A full-text index on the text blocks of messages, for search (chatapp/conversations/search.py).

PostgreSQL only: SQLite has no such index and searches by substring instead. The expression
must stay identical to ``search.MessageTextVector`` or the planner will not use the index.
"""

from django.db import migrations

INDEX = (
    "CREATE INDEX IF NOT EXISTS msg_text_search ON chatapp_message USING GIN "
    "(to_tsvector('english'::regconfig, "
    "jsonb_path_query_array(content, '$[*] ? (@.type == \"text\").text')))"
)
TITLE_INDEX = (
    "CREATE INDEX IF NOT EXISTS conv_title_search ON chatapp_conversation USING GIN "
    "(to_tsvector('english'::regconfig, COALESCE(title, '')))"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX)
        schema_editor.execute(TITLE_INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS msg_text_search")
        schema_editor.execute("DROP INDEX IF EXISTS conv_title_search")


class Migration(migrations.Migration):

    dependencies = [
        ("chatapp", "0008_attachment_flags"),
    ]

    operations = [migrations.RunPython(create, drop)]
