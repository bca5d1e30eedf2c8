"""The contract workload: a 100-page contract, ten questions, Claude Sonnet 4.6 prices.

Run with `make bench-contract` (or `.venv/bin/python -m benchmarks.contract`). It goes through
the real app: a throw-away SQLite database, the upload service (content checks, count_tokens),
`replies.start_reply` for each question (prompt assembly, cache breakpoints, TTL choice, the
SDK stream, usage and cost recording), against the offline upstream, which implements the
prompt cache as the API documents it. The contract is attached to the first question, or (case
``late``) to the third, where it stays: the conversation is append-only. Time is simulated:
between questions the upstream's cache clock is moved forward and the questions' timestamps
are set a gap apart.

Three costs are reported for each case:
- with caching: what the replies were billed (the sum of their recorded costs);
- without caching: the same requests with every prompt token at the input price;
- the theoretical minimum, "one cache write, nine full reads": every prompt token is written to
  the cache once, when it first appears (the contract with the first question; the last
  question's new tokens, which nothing reads again, at the input price), and every later
  question reads everything before it from the cache; the same output. Each request's prompt
  begins with the previous one's, so the tokens it adds are the difference of the two sizes.
  Writes are priced at the TTL the pace calls for (5 minutes for a question a minute).

The results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = 100
QUESTIONS = 10
MODEL = "claude-sonnet-4-6"
CLAUSES = (
    "The Supplier shall deliver the Services described in Schedule {n} with due skill and care.",
    "Payment of each invoice is due within thirty days of its receipt by the Customer.",
    "Either party may terminate this Agreement on ninety days written notice to the other.",
    "Neither party limits its liability for death or personal injury caused by negligence.",
    "All intellectual property created under clause {n} vests in the Customer on payment.",
    "The Supplier shall keep the Customer's confidential information secret for five years.",
    "Any dispute shall first be referred to the parties' senior managers for resolution.",
    "This Agreement is governed by the laws of England and Wales in every respect.",
)
ASKED = (
    "Summarise the payment terms.", "How can the agreement be terminated?",
    "Who owns the intellectual property?", "What does the confidentiality clause require?",
    "How are disputes resolved?", "Which law governs the agreement?",
    "What are the limits of liability?", "What standard of care applies to the Services?",
    "How long does confidentiality last?", "What happens to unpaid invoices?",
)


def contract_pages(chars_per_page: int = 2000) -> list[str]:
    """A hundred pages of numbered clauses, each page about ``chars_per_page`` characters."""
    pages = []
    for page in range(1, PAGES + 1):
        text, n = f"Page {page}. ", 0
        while len(text) < chars_per_page:
            n += 1
            clause = CLAUSES[(page + n) % len(CLAUSES)].format(n=page * 10 + n)
            text += f"{page}.{n} {clause} "
        pages.append(text.strip())
    return pages


@dataclass
class Case:
    name: str
    file_name: str
    raw: bytes
    gap: timedelta
    attach_at: int = 1  # the question (from 1) the contract is attached to


@dataclass
class Outcome:
    case: Case
    document_tokens: int
    rows: list[dict]
    with_caching: Decimal
    without_caching: Decimal
    minimum: Decimal


def setup_django(base_url: str, var_dir: str) -> None:
    """The app in this process: a throw-away SQLite database under ``var_dir``, migrated, its
    SDK pointed at ``base_url`` (benchmarks.long_conversation uses it too)."""
    os.environ.update({
        "CHATAPP_VAR_DIR": var_dir,
        "ANTHROPIC_API_KEY": "benchmark",
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_MAX_RETRIES": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    })
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _price(usage, rates):
    from chatapp.claude.pricing import price_usage

    return price_usage(usage, rates).total


async def run_case(case: Case, upstream) -> Outcome:
    from channels.db import database_sync_to_async
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db.models import F

    from chatapp.attachments import intake
    from chatapp.billing.prices import rates_in_force
    from chatapp.claude.pricing import pick_band
    from chatapp.claude.types import Usage
    from chatapp.models import Conversation, Message, Role
    from chatapp.policies.attachments import upload_policy
    from chatapp.policies.replies import reply_policy
    from chatapp.replies import registry
    from chatapp.replies import service as replies
    from tests.factories import make_conversation, make_user

    upstream.reset()
    user = await database_sync_to_async(make_user)()
    conversation = await database_sync_to_async(make_conversation)(user, model=MODEL)
    document = await intake.add_upload(
        conversation, SimpleUploadedFile(case.file_name, case.raw), upload_policy()
    )
    rates = pick_band(await database_sync_to_async(rates_in_force)(MODEL), 0)
    earlier = Message.objects.filter(conversation=conversation, role=Role.USER)
    rows = []
    for number, question in enumerate(ASKED[:QUESTIONS]):
        if number:
            # A gap passes: the upstream's cache ages, and the questions asked so far move a
            # gap into the past (the app judges the pace from their timestamps).
            upstream.advance_clock(case.gap.total_seconds())
            await database_sync_to_async(earlier.update)(created_at=F("created_at") - case.gap)
        ids = (document.pk,) if number + 1 == case.attach_at else ()
        _asked, reply = await replies.start_reply(
            conversation.pk, question, MODEL, ids, policy=reply_policy()
        )
        await registry.wait_for_all()
        reply = await database_sync_to_async(Message.objects.get)(pk=reply.pk)
        rows.append({
            "question": number + 1,
            "input": reply.input_tokens,
            "write_5m": reply.cache_write_5m_tokens,
            "write_1h": reply.cache_write_1h_tokens,
            "read": reply.cache_read_tokens,
            "output": reply.output_tokens,
            "cost": reply.cost_usd,
        })
    await registry.shutdown()
    await database_sync_to_async(Conversation.objects.filter(pk=conversation.pk).delete)()

    with_caching = sum((row["cost"] for row in rows), Decimal(0))
    without, minimum, seen = Decimal(0), Decimal(0), 0
    write = "cache_write_1h_tokens" if case.gap > timedelta(minutes=5) else "cache_write_5m_tokens"
    for row in rows:
        prompt = row["input"] + row["write_5m"] + row["write_1h"] + row["read"]
        without += _price(Usage(input_tokens=prompt, output_tokens=row["output"]), rates)
        new = "input_tokens" if row["question"] == len(rows) else write
        best = Usage(cache_read_tokens=seen, output_tokens=row["output"], **{new: prompt - seen})
        minimum += _price(best, rates)
        seen = prompt
    return Outcome(case, document.tokens, rows, with_caching, without, minimum)


def _usd(amount: Decimal) -> str:
    return f"${amount:.4f}"


def report(outcome: Outcome) -> str:
    case = outcome.case
    lines = [
        f"### {case.name}",
        "",
        f"Document: {outcome.document_tokens:,} tokens (count_tokens), attached to question "
        f"{case.attach_at}. Questions {case.gap.total_seconds() / 60:g} minute(s) apart.",
        "",
        "| question | input | cache write 5m | cache write 1h | cache read | output | cost |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in outcome.rows:
        lines.append(
            f"| {row['question']} | {row['input']:,} | {row['write_5m']:,} | "
            f"{row['write_1h']:,} | {row['read']:,} | {row['output']:,} | {_usd(row['cost'])} |"
        )
    ratio = outcome.with_caching / outcome.minimum
    lines += [
        "",
        "| | cost |",
        "|---|---|",
        f"| with caching | {_usd(outcome.with_caching)} |",
        f"| without caching | {_usd(outcome.without_caching)} |",
        f"| theoretical minimum (one cache write, nine full reads) | {_usd(outcome.minimum)} |",
        f"| with caching ÷ minimum | {ratio:.4f} ({(ratio - 1) * 100:+.2f} %) |",
        "",
    ]
    return "\n".join(lines)


def main(which: str) -> list[Outcome]:
    from chatapp.offline_upstream.testing import RunningUpstream

    with RunningUpstream(tokens_per_second=0) as upstream:
        # Django is set up (and migrated) before the event loop starts: migrate is sync-only.
        setup_django(upstream.base_url, tempfile.mkdtemp(prefix="chatapp-bench-"))
        cases = build_cases(which)

        async def run_all() -> list[Outcome]:
            return [await run_case(case, upstream) for case in cases]

        return asyncio.run(run_all())


def build_cases(which: str) -> list[Case]:
    from tests.files import make_pdf  # the test suite's PDF writer (pypdf)

    pages = contract_pages()
    text = "\n\f\n".join(pages).encode()
    minute = timedelta(minutes=1)
    cases = {
        "text": Case("A 100-page contract as text (Markdown)", "contract.md", text, minute),
        "pdf": Case("The same contract as a 100-page PDF", "contract.pdf", make_pdf(pages), minute),
        "slow": Case("As text, questions 20 minutes apart", "contract.md", text,
                     timedelta(minutes=20)),
        # The document joins the conversation later and stays in that question's turn
        # (append-only: nothing already sent moves), so the first two questions are cached
        # as they are and the contract is written once, with the third.
        "late": Case("As text, attached to the third question", "contract.md", text, minute,
                     attach_at=3),
    }
    return [cases[name] for name in (cases if which == "all" else [which])]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["all", "text", "pdf", "slow", "late"], default="all")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    for outcome in main(args.case):
        print(report(outcome))
