from django.core.management.base import BaseCommand

from chatapp import launcher


class Command(BaseCommand):
    help = "Run chatapp: daphne, plus the offline upstream when no ANTHROPIC_API_KEY is set."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--upstream-port", type=int, default=8765)

    def handle(self, *args, **options):
        code = launcher.run(options["host"], options["port"], options["upstream_port"])
        if code:
            raise SystemExit(code)
