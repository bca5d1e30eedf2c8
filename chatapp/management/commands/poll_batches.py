import asyncio
import signal

from django.core.management.base import BaseCommand

from chatapp.batches.poller import BatchPoller
from chatapp.policies.batches import batch_poller


class Command(BaseCommand):
    help = (
        "Run the batch poller: submit batch jobs, poll their Message Batches and record the "
        "results. `make run` starts one; run this where the server runs without it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="do what is due now, then exit (for cron)"
        )

    def handle(self, *args, **options):
        poller = BatchPoller(batch_poller())  # the settings of this run
        if options["once"]:
            asyncio.run(poller.tick())
            return
        asyncio.run(self._run_until_signalled(poller))

    @staticmethod
    async def _run_until_signalled(poller: BatchPoller) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await poller.run(stop)
