from django.core.management.base import BaseCommand

from chatapp.runtime.catalog_sync import sync_catalog


class Command(BaseCommand):
    help = "Reconcile the model catalog with the models the Anthropic API lists."

    def handle(self, *args, **options):
        self.stdout.write(sync_catalog())
