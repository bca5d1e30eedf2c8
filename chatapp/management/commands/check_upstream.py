"""``manage.py check_upstream``: one tiny request to every active catalog model, each reported
OK or with the API's own status, error type and message; exits non-zero on any failure.

Against the real API: ``ANTHROPIC_API_KEY=… python manage.py check_upstream`` (docs/claude-api.md).
"""

import asyncio

import anthropic
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatapp.claude import probe, thinking
from chatapp.claude.types import UpstreamError
from chatapp.models import ClaudeModel

# Room for a one-word answer; side_call_params adds what the model's thinking may still take.
ANSWER_TOKENS = 16


class Command(BaseCommand):
    help = "Send one tiny request to every active catalog model and report what the API says."

    def add_arguments(self, parser):
        parser.add_argument("models", nargs="*", help="only these model ids (default: all active)")

    def handle(self, *args, **options):
        models = ClaudeModel.objects.filter(is_active=True).order_by("pk")
        if options["models"]:
            models = models.filter(pk__in=options["models"])
        checks = [
            (model.pk, thinking.side_call_params(model.capabilities, ANSWER_TOKENS,
                                                 model.max_output_tokens))
            for model in models
        ]
        if not checks:
            raise CommandError("No active model in the catalog to check.")
        try:
            results = asyncio.run(self._probe_all(checks))
        except UpstreamError as exc:  # no API key configured
            raise CommandError(exc.message) from exc
        for result in results:
            self.stdout.write(self._line(result))
        failed = [result.model for result in results if not result.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} models failed: "
                               f"{', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS(f"All {len(results)} models answered."))

    async def _probe_all(self, checks):
        self.stdout.write(
            f"Checking {len(checks)} models at "
            f"{settings.ANTHROPIC_BASE_URL or 'https://api.anthropic.com'} "
            f"(anthropic-version {probe.api_version()}, SDK {anthropic.__version__})"
        )
        # One after another: the report's order is the catalog's, and a rate limit is spared.
        return [await probe.probe(model, params) for model, params in checks]

    def _line(self, result: probe.ProbeResult) -> str:
        if result.ok:
            return self.style.SUCCESS(
                f"OK      {result.model}: {result.stop_reason}, {result.input_tokens} in / "
                f"{result.output_tokens} out, answered by {result.answered_by} "
                f"({result.request_id})" + (f"\n        {result.warning}" if result.warning else "")
            )
        status = result.status if result.status is not None else "no answer"
        return self.style.ERROR(
            f"FAILED  {result.model}: {status} {result.error_type}: {result.message}"
            + (f" ({result.request_id})" if result.request_id else "")
        )
