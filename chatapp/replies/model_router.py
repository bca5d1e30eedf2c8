"""Automatic model routing: "Auto" in the model picker chooses the tier per message.

The rule (docs/routing.md) scores what the request asks for: thinking, documents and images,
the question's length and wording, how long the conversation already is. A low score goes to
the cheapest tier (Haiku), a middling one to Sonnet, a high one to the top tier (Opus). When
the score sits on a border the rule is unsure, and (``CHATAPP_ROUTER_CONFIRM``) the cheapest
model is asked to classify the request; that call reserves its worst case against the
owner's budget first (when the budget cannot cover it, the rule's choice stands), and is
priced and recorded (purpose ``routing``). The choice and its one-line reason are stored on
the reply.
"""

import logging
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models import Count, Sum

from chatapp.attachments import prompting
from chatapp.billing import prices
from chatapp.claude import thinking
from chatapp.claude.types import Completion, UpstreamError
from chatapp.models import (
    Attachment,
    AttachmentKind,
    CallPurpose,
    ClaudeModel,
    Conversation,
    Message,
    ModelTier,
)
from chatapp.replies import side_calls
from chatapp.replies.policy import ReplyPolicy
from chatapp.safety import model_access

logger = logging.getLogger(__name__)

TIERS = (ModelTier.HAIKU, ModelTier.SONNET, ModelTier.OPUS)
# Score → tier: at most CHEAP_UP_TO goes to Haiku, at least TOP_FROM to Opus.
CHEAP_UP_TO = 0
TOP_FROM = 3
SHORT_CHARS = 200
LONG_CHARS = 2000
LONG_CONVERSATION_MESSAGES = 12
ANALYSIS_WORDS = re.compile(
    r"\b(analy[sz]e|analysis|compare|comparison|prove|proof|derive|design|architecture|"
    r"refactor|evaluate|assess|trade-?offs?|strategy|review|debug|optimi[sz]e|plan)\b",
    re.IGNORECASE,
)
THINKING_POINTS = {"low": 1, "medium": 1, "on": 1, "high": 2, "xhigh": 2, "max": 2}


@dataclass(frozen=True)
class Request:
    """What the router looks at."""

    text: str
    documents: int = 0  # in this message and earlier in the conversation
    images: int = 0
    thinking: str | None = None
    earlier_messages: int = 0


@dataclass
class Decision:
    tier: str
    model: str
    score: int
    reason: str
    unsure: bool
    confirmed_by: str = ""
    factors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"auto": True, **asdict(self)}


def score(request: Request) -> tuple[int, list[str]]:
    """The rule: an ordinary request scores 1; points for what makes one demanding, one off
    for a short message that asks for nothing; with the words that explain them."""
    points, factors = 1, []
    if request.thinking in THINKING_POINTS:
        points += THINKING_POINTS[request.thinking]
        factors.append(f"{request.thinking} thinking asked for")
    if request.documents:
        points += 1
        factors.append(f"{request.documents} document(s)")
    if request.images:
        points += 1
        factors.append(f"{request.images} image(s)")
    if len(request.text) > LONG_CHARS:
        points += 1
        factors.append("a long message")
    if ANALYSIS_WORDS.search(request.text):
        points += 1
        factors.append("analysis asked for")
    if request.earlier_messages >= LONG_CONVERSATION_MESSAGES:
        points += 1
        factors.append("a long conversation")
    if not factors and len(request.text) <= SHORT_CHARS:
        points -= 1
        factors.append("a short message with no documents or thinking")
    return points, factors or ["an ordinary request"]


def tier_for(points: int) -> str:
    if points <= CHEAP_UP_TO:
        return ModelTier.HAIKU
    return ModelTier.OPUS if points >= TOP_FROM else ModelTier.SONNET


def model_of_tier(tier: str | None, user_id: int | None = None) -> ClaudeModel | None:
    """The catalog's first active model of the tier (staff order the catalog) the user's
    groups allow; ``tier`` None: of any tier."""
    active = ClaudeModel.objects.filter(is_active=True)
    if tier is not None:
        active = active.filter(tier=tier)
    return model_access.allowed(active, user_id).order_by("sort_order").first()


def decide(request: Request, user_id: int | None = None, *, default_model: str) -> Decision:
    """The rule's choice, only ever among the models the user's groups allow (``default_model``
    when the catalog offers none)."""
    points, factors = score(request)
    tier = tier_for(points)
    model = (
        model_of_tier(tier, user_id)
        or model_of_tier(ModelTier.SONNET, user_id)
        or model_of_tier(None, user_id)
    )
    model_id = model.pk if model else default_model
    name = model.display_name if model else model_id
    return Decision(
        tier=tier,
        model=model_id,
        score=points,
        reason=f"Auto chose {name}: {', '.join(factors)}.",
        unsure=points in (CHEAP_UP_TO, TOP_FROM),
        factors=factors,
    )


def request_facts(
    conversation_id: int, text: str, attachment_ids: tuple[int, ...], thinking: str | None
) -> tuple[Request, int]:
    """What the router looks at, and whose budget pays for a confirming call."""
    conversation = Conversation.objects.get(pk=conversation_id)
    mine = Attachment.objects.filter(owner_id=conversation.owner_id)
    kinds = mine.filter(pk__in=attachment_ids).values("kind").annotate(n=Count("pk"))
    counts = {row["kind"]: row["n"] for row in kinds}
    earlier_documents = prompting.sent_rows(conversation).filter(
        kind=AttachmentKind.DOCUMENT
    ).count()
    return Request(
        text=text,
        documents=counts.get(AttachmentKind.DOCUMENT, 0) + earlier_documents,
        images=counts.get(AttachmentKind.IMAGE, 0),
        thinking=thinking,
        earlier_messages=conversation.messages.on_screen().count(),
    ), conversation.owner_id


CONFIRM_PROMPT = (
    "Classify how demanding this request is for an AI assistant. Answer with one word: "
    "simple, standard or complex.\n\nRequest:\n{text}"
)
_ANSWERS = {"simple": ModelTier.HAIKU, "standard": ModelTier.SONNET, "complex": ModelTier.OPUS}


CHECK_TOKENS = 8  # one word


def _check_request(text: str, owner_id: int) -> dict[str, Any] | None:
    """The confirming call: to the cheapest model the owner's groups allow, a side call
    (thinking off or at its minimum, room for the one-word answer whatever it thinks); None if
    no such model is priced."""
    allowed = model_access.allowed(ClaudeModel.objects.filter(is_active=True), owner_id)
    model = ClaudeModel.objects.filter(pk=prices.cheapest_model_id(among=allowed)).first()
    if model is None:
        return None
    return {
        "model": model.pk,
        **thinking.side_call_params(model.capabilities, CHECK_TOKENS, model.max_output_tokens),
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": CONFIRM_PROMPT.format(text=text[:4000])}]}],
    }


async def _confirm(text: str, owner_id: int) -> side_calls.SideCall | None:
    """Ask the cheapest allowed model when the rule is unsure; None if it cannot be asked, or the
    budget cannot cover the question (its worst case is reserved first)."""
    request = await database_sync_to_async(_check_request)(text, owner_id)
    if request is None:
        return None
    try:
        return await side_calls.ask(
            owner_id, CallPurpose.ROUTING, request,
            subject="Checking which model suits this message",
        )
    except UpstreamError as exc:  # budget_exceeded included: the rule's choice stands
        logger.warning("routing confirmation skipped: %s", exc)
        return None


def apply_confirmation(
    decision: Decision, completion: Completion, user_id: int | None = None
) -> Decision:
    answer = next((w for w in re.findall(r"[a-z]+", completion.text.lower()) if w in _ANSWERS),
                  None)
    if answer is None:
        # No usable answer (an empty one: the tokens went to thinking): the rule decides, and
        # the call, which was billed, is still recorded.
        decision.reason = decision.reason[:-1] + " (the check gave no answer)."
        return decision
    decision.confirmed_by = completion.model
    if _ANSWERS[answer] == decision.tier:
        decision.reason = decision.reason[:-1] + f" (confirmed by {completion.model})."
        return decision
    model = model_of_tier(_ANSWERS[answer], user_id)
    if model is not None:
        decision.tier, decision.model = _ANSWERS[answer], model.pk
        decision.reason = f"Auto chose {model.display_name}: {completion.model} judged it {answer}."
    return decision


@dataclass
class Routed:
    decision: Decision
    # The confirming call, holding its reservation until ``record_confirmation`` settles it.
    check: side_calls.SideCall | None = None
    conversation_id: int | None = None

    @property
    def confirmation(self) -> Completion | None:
        return self.check.completion if self.check else None


async def route(
    conversation_id: int,
    text: str,
    attachment_ids: tuple[int, ...],
    thinking: str | None,
    policy: ReplyPolicy,
) -> Routed:
    """The model for one Auto message, with its reason (and the confirming call, if any)."""
    facts, owner_id = await database_sync_to_async(request_facts)(
        conversation_id, text, attachment_ids, thinking
    )
    decision = await database_sync_to_async(decide)(
        facts, owner_id, default_model=policy.defaults.model
    )
    if not (decision.unsure and policy.router_confirm):
        return Routed(decision)
    check = await _confirm(text, owner_id)
    if check is not None:
        decision = await database_sync_to_async(apply_confirmation)(
            decision, check.completion, owner_id
        )
    return Routed(decision, check, conversation_id)


@transaction.atomic
def record_confirmation(routed: Routed, reply: Message | None) -> None:
    """The confirming call is billed like any other, and its reservation settled in the same
    transaction (sync: database_sync_to_async). ``reply`` None: the message was refused after
    the confirmation was asked; the call is still billed, to the conversation."""
    if routed.check is None:
        return
    conversation_id = routed.conversation_id
    if reply is None and not Conversation.objects.filter(pk=conversation_id).exists():
        conversation_id = None  # deleted meanwhile: the record outlives it, as all records do
    side_calls.record(
        routed.check, conversation_id=conversation_id,
        message_id=reply.pk if reply is not None else None,
    )


# --- For the cost review ---------------------------------------------------------------


def auto_versus_default(messages, default_model: str) -> dict[str, Decimal | int | None]:
    """What Auto replies cost, against the same usage priced on ``default_model``.

    ``messages``: a Message queryset (a date range, a user). Summed in the database per model,
    then priced per model: a handful of rows whatever the number of messages.
    """
    auto = messages.filter(options__route__auto=True, cost_usd__isnull=False)
    sums = auto.values("model").annotate(
        n=Count("pk"), cost=Sum("cost_usd"), input=Sum("input_tokens"),
        output=Sum("output_tokens"), write5=Sum("cache_write_5m_tokens"),
        write1=Sum("cache_write_1h_tokens"), read=Sum("cache_read_tokens"),
    )
    from chatapp.claude.types import Usage

    actual, on_default, count = Decimal(0), Decimal(0), 0
    for row in sums:
        count += row["n"]
        actual += row["cost"] or 0
        usage = Usage(input_tokens=row["input"] or 0, output_tokens=row["output"] or 0,
                      cache_write_5m_tokens=row["write5"] or 0,
                      cache_write_1h_tokens=row["write1"] or 0,
                      cache_read_tokens=row["read"] or 0)
        priced = prices.cost_of(default_model, usage)
        on_default += priced.total if priced else 0
    return {"messages": count, "cost_usd": actual, "default_cost_usd": on_default,
            "saved_usd": on_default - actual}
