import socket

from django.core.management.base import BaseCommand

from chatapp.runtime import launcher


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, so `make run` never clashes over the offline upstream's."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Command(BaseCommand):
    help = "Run chatapp: daphne, plus the offline upstream when no ANTHROPIC_API_KEY is set."
    # The system checks run in the batch poller this starts (a `manage.py` command too), whose
    # output shows beside daphne's; here they imported every view, and with them the anthropic
    # SDK, before anything could start (docs/operations.md, "Start-up").
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--upstream-port", type=int, default=0,
                            help="the offline upstream's port (default: any free port)")
        parser.add_argument("--migrate", action="store_true",
                            help="apply pending migrations first (none pending: no time lost)")

    def handle(self, *args, **options):
        upstream_port = options["upstream_port"] or free_port()
        code = launcher.run(options["host"], options["port"], upstream_port,
                            migrate=options["migrate"])
        if code:
            raise SystemExit(code)
