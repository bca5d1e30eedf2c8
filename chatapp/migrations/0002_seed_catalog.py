"""Seed the model catalog and its prices (November 2026 published prices)."""

from django.db import migrations


def seed(apps, schema_editor):
    from chatapp.claude.catalog import seed_catalog

    seed_catalog(apps.get_model("chatapp", "ClaudeModel"), apps.get_model("chatapp", "ModelPrice"))


class Migration(migrations.Migration):
    dependencies = [("chatapp", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
