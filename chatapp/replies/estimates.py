"""What the message being typed will cost: the composer's estimate.

The prompt is sized from what is already known, so that typing costs one small count:

- the conversation so far: the previous call's whole prompt as the API counted it (its input,
  cache-write and cache-read tokens), plus everything said since (the reply it wrote, any
  question left unanswered), as compaction keeps it per message;
- the attachments waiting in the composer: counted once, when they were uploaded (an image
  by the chosen model's image tier);
- the new text: ``count_tokens`` on the text alone (the only call while typing; the browser
  waits for a pause). A conversation without a priced call yet counts system prompt and
  tools with it.

The cache is expected to serve the previous prompt when the last call used the same model
and thinking setting and its entry is still alive (its TTL since that call); everything else
is written at the TTL the conversation's pace calls for (``caching.ttl_for``). The cost runs
from a typical reply (the median of the user's last replies on this model) to ``max_tokens``.

With Auto (``model_router``) the model is chosen only when the message is sent: the estimate
names the router's rule's pick for the text and attachments so far, and its cost range spans
every model Auto may still send to: that pick alone, or, when the rule is unsure and asks the
cheapest model to decide (``CHATAPP_ROUTER_CONFIRM``), each tier's model. The text is counted
once per such model (tokenizers differ between generations), concurrently.
"""

import asyncio
import dataclasses
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from chatapp.attachments.image_sizes import image_tokens
from chatapp.billing import money, prices
from chatapp.claude import messages as claude_messages
from chatapp.claude import pricing, thinking
from chatapp.claude.prompt_cache import TTL_SPANS
from chatapp.claude.token_bounds import text_bound
from chatapp.conversations import settings as conversation_settings
from chatapp.errors import ChatappError
from chatapp.models import (
    AUTO_MODEL,
    Attachment,
    ClaudeModel,
    Conversation,
    Message,
    MessageStatus,
    Role,
)
from chatapp.replies import caching, model_router, tools
from chatapp.replies.policy import ReplyPolicy
from chatapp.safety import model_access
from chatapp.safety.access import get_conversation_for_user

TYPICAL_OUTPUT_TOKENS = 500  # before the user has replies of their own on a model
RECENT_REPLIES = 50
LATER = 2**62  # a message id after every message: "the next question"


@dataclass
class Basis:
    """Everything but the new text, read from the database in one go."""

    model: ClaudeModel
    history_tokens: int = 0
    attachment_tokens: int = 0
    cached_tokens: int = 0
    ttl: str = "5m"
    system: list[dict[str, Any]] = field(default_factory=list)
    has_priced_call: bool = False
    expected_output: int = TYPICAL_OUTPUT_TOKENS
    max_output: int = 0
    bands: list[pricing.PriceRates] = field(default_factory=list)


@dataclass(frozen=True)
class Estimate:
    model: str
    input_tokens: int
    text_tokens: int
    attachment_tokens: int
    cached_tokens: int
    ttl: str
    expected_output_tokens: int
    max_output_tokens: int
    cost_low: Decimal | None
    cost_high: Decimal | None
    # Auto: the models it may send to (the pick first); empty when a model was chosen.
    auto_models: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        share = self.cached_tokens / self.input_tokens if self.input_tokens else 0.0
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "text_tokens": self.text_tokens,
            "attachment_tokens": self.attachment_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_share": round(share, 4),
            "ttl": self.ttl,
            "expected_output_tokens": self.expected_output_tokens,
            "max_output_tokens": self.max_output_tokens,
            "cost_low_usd": money.format_usd(self.cost_low),
            "cost_high_usd": money.format_usd(self.cost_high),
            "auto": bool(self.auto_models),
            "auto_models": list(self.auto_models),
        }


def _words(text: str) -> int:
    """Tokens of stored text nobody counted: generous, the upper bound (3 UTF-8 bytes a
    token; 3 characters a token fell short for text outside ASCII)."""
    return text_bound(text)


def _message_tokens(message: Message) -> int:
    if message.token_count is not None:
        return message.token_count
    if message.role == Role.ASSISTANT:
        return message.output_tokens or _words(message.text)
    return _words(message.text)


def _prompt_of(reply: Message) -> int:
    return (reply.input_tokens + reply.cache_write_5m_tokens + reply.cache_write_1h_tokens
            + reply.cache_read_tokens)


def _last_priced_reply(conversation: Conversation) -> Message | None:
    """The latest reply whose call reached Claude: its usage sizes the prompt exactly. An
    imported reply's usage is another account's call (its prompt held files that did not
    come, its cache entry is not ours)."""
    prompt = (F("input_tokens") + F("cache_write_5m_tokens") + F("cache_write_1h_tokens")
              + F("cache_read_tokens"))
    return (
        conversation.messages.on_screen().filter(role=Role.ASSISTANT)
        .exclude(options__has_key="imported")
        .alias(prompt=prompt).filter(prompt__gt=0).order_by("-pk").first()
    )


def _cache_alive(reply: Message, now: datetime) -> bool:
    ttl = "1h" if reply.cache_write_1h_tokens else "5m"
    return now - reply.created_at < TTL_SPANS[ttl] - timedelta(seconds=30)


def _history(basis: Basis, conversation: Conversation, level: str | None) -> None:
    """The conversation so far, and how much of it the cache should still hold.

    Not ``history.history_before`` (a reply's request): this sizes the next question's
    prompt before any reply exists, so it reads the whole branch on screen: from the last
    priced reply on, its reported prompt (which held any summary) plus the messages after
    it; with no priced reply, every message on screen, summarised ones included (the
    generous side: a summary replaces them with less)."""
    last = _last_priced_reply(conversation)
    since = conversation.messages.on_screen()
    if last is None:
        basis.history_tokens = sum(_message_tokens(m) for m in since)
        return
    prompt = _prompt_of(last)
    later = since.filter(pk__gt=last.reply_to_id or last.pk)
    basis.history_tokens = prompt + sum(_message_tokens(m) for m in later)
    basis.has_priced_call = True
    same_setting = (last.model == basis.model.pk
                    and (last.options or {}).get("thinking") == level)
    if same_setting and _cache_alive(last, timezone.now()):
        basis.cached_tokens = prompt


def _project_documents(basis: Basis, conversation: Conversation, level: str | None) -> None:
    """A project conversation's first question opens with the project's documents
    (attachments/prompting.project_references): counted as stored, and expected from the
    cache when another conversation of the project asked the same model, with the same
    thinking, within the entry's life (they share that prefix, byte for byte)."""
    if conversation.project_id is None or conversation.messages.exists():
        return
    documents = Attachment.objects.filter(
        project_id=conversation.project_id, conversation=None, withdrawn_at=None
    )
    tokens = sum(documents.values_list("tokens", flat=True))
    basis.history_tokens += tokens
    latest = (
        Message.objects.filter(conversation__project_id=conversation.project_id,
                               role=Role.ASSISTANT, model=basis.model.pk)
        .exclude(options__has_key="imported").order_by("-pk").first()
    )
    if (latest is not None and (latest.options or {}).get("thinking") == level
            and _prompt_of(latest) and _cache_alive(latest, timezone.now())):
        basis.cached_tokens += tokens


def _pending_tokens(conversation: Conversation, ids: list[int], image_tier: str) -> int:
    """Attachments waiting in the composer, as counted at upload (images by this tier)."""
    rows = Attachment.objects.filter(
        pk__in=ids, conversation=conversation, owner_id=conversation.owner_id,
        message__isnull=True,
    )
    found = {row.pk: row for row in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Http404(f"Attachment {missing[0]} is not waiting in this conversation.")
    return sum(
        image_tokens(row.width, row.height, image_tier) if row.width and row.height
        else row.tokens
        for row in found.values()
    )


def _typical_output(user_id: int, model_id: str) -> int:
    recent = list(
        Message.objects.filter(
            conversation__owner_id=user_id, role=Role.ASSISTANT, model=model_id,
            status=MessageStatus.COMPLETE, output_tokens__gt=0,
        ).order_by("-pk").values_list("output_tokens", flat=True)[:RECENT_REPLIES]
    )
    return int(statistics.median(recent)) if recent else TYPICAL_OUTPUT_TOKENS


def _model(model_id: str, user_id: int) -> ClaudeModel:
    """The chosen model, as the message would be refused: unknown (404), or not among the
    models the user's groups allow (403, in the words of the refusal)."""
    model = model_access.active_if_allowed(model_id, user_id)
    if model is not None:
        return model
    refused = ClaudeModel.objects.filter(pk=model_id, is_active=True).first()
    if refused is None:
        raise Http404(f"Unknown model {str(model_id)[:100]!r}.")
    raise ChatappError(model_access.not_allowed_message(refused), 403, code="model_not_allowed")


def _auto_models(
    user_id: int, conversation: Conversation | None, text: str, attachment_ids: list[int],
    level: str | None, policy: ReplyPolicy,
) -> list[ClaudeModel]:
    """The models Auto may send this message to, its rule's pick first."""
    if conversation is not None:
        facts, _ = model_router.request_facts(  # what route() will look at, exactly
            conversation.pk, text, tuple(attachment_ids), level)
    else:
        facts = model_router.Request(text=text, thinking=level)
    decision = model_router.decide(facts, user_id, default_model=policy.defaults.model)
    picks = [decision.model]
    if decision.unsure and policy.router_confirm:  # the cheapest model may move it
        tiers = (model_router.model_of_tier(tier, user_id) for tier in model_router.TIERS)
        picks += [model.pk for model in tiers if model is not None]
    return [_model(pk, user_id) for pk in dict.fromkeys(picks)]


def _models(
    user_id: int, model_id: str | None, conversation: Conversation | None, text: str,
    attachment_ids: list[int], level: str | None, policy: ReplyPolicy,
) -> tuple[list[ClaudeModel], bool]:
    """The model(s) to estimate for, and whether Auto chooses among them."""
    wanted = model_id or (conversation.model if conversation else policy.defaults.model)
    if wanted == AUTO_MODEL:
        return _auto_models(user_id, conversation, text, attachment_ids, level, policy), True
    return [_model(wanted, user_id)], False


def bases_for(
    user, conversation_id: int | None, model_id: str | None, attachment_ids: list[int],
    level: str | None, policy: ReplyPolicy, text: str = "",
) -> tuple[list[Basis], bool]:
    """One basis per model the message may go to (the likely one first), and whether Auto
    chooses. Synchronous (ORM); Http404 for someone else's conversation or attachment."""
    conversation = (
        get_conversation_for_user(user, conversation_id) if conversation_id is not None else None
    )
    if conversation is None and attachment_ids:
        raise Http404("Attachments belong to a conversation.")
    models, auto = _models(user.pk, model_id, conversation, text, attachment_ids, level, policy)
    default_max = policy.defaults.max_output_tokens
    return [_basis(user, conversation, m, attachment_ids, level, default_max)
            for m in models], auto


def _basis(
    user, conversation: Conversation | None, model: ClaudeModel, attachment_ids: list[int],
    level: str | None, default_max: int,
) -> Basis:
    basis = Basis(model=model, bands=prices.rates_in_force(model.pk))
    limit = (conversation_settings.reply_max_tokens(conversation, model, default_max)
             if conversation else conversation_settings.default_max_output(model, default_max))
    params = thinking.request_params(model.capabilities, level, limit, model.max_output_tokens)
    basis.max_output = params.get("max_tokens", limit)
    basis.expected_output = _typical_output(user.pk, model.pk)
    if conversation is not None:
        _history(basis, conversation, level)
        _project_documents(basis, conversation, level)
        basis.attachment_tokens = _pending_tokens(conversation, attachment_ids, model.image_tier)
        basis.ttl = caching.ttl_for(conversation, LATER, model.pk)
        if conversation.system_prompt.strip():
            basis.system = [{"type": "text", "text": conversation.system_prompt}]
    return basis


async def _text_tokens(basis: Basis, text: str, policy: ReplyPolicy) -> int:
    """The one count made while typing (UpstreamError when the API cannot be asked)."""
    first_call = not basis.has_priced_call
    if not text.strip() and not first_call:
        return 0
    request: dict[str, Any] = {
        "model": basis.model.pk,
        "messages": [{"role": "user", "content": text if text.strip() else "."}],
    }
    if first_call:  # nothing counted the system prompt and the tools yet
        request.update(tools.request_params(policy))
        if basis.system:
            request["system"] = basis.system
    return await claude_messages.count_tokens(request)


async def estimate(
    user, *, conversation_id: int | None, text: str, model_id: str | None,
    attachment_ids: list[int], thinking_level: str | None, policy: ReplyPolicy,
) -> Estimate:
    bases, auto = await database_sync_to_async(bases_for)(
        user, conversation_id, model_id, attachment_ids, thinking_level, policy, text
    )
    counted = await asyncio.gather(*(_text_tokens(basis, text, policy) for basis in bases))
    each = [_priced(basis, tokens) for basis, tokens in zip(bases, counted, strict=True)]
    if not auto:
        return each[0]
    return _spanning(each)


def _spanning(each: list[Estimate]) -> Estimate:
    """Auto: the likely pick's figures, with the cost range over every model it may pick
    (no range when one of them has no price: its cost is unknown)."""
    likely = each[0]
    lows, highs = [e.cost_low for e in each], [e.cost_high for e in each]
    priced = all(cost is not None for cost in lows + highs)
    return dataclasses.replace(
        likely,
        cost_low=min(lows) if priced else None,
        cost_high=max(highs) if priced else None,
        auto_models=tuple(e.model for e in each),
    )


def _priced(basis: Basis, text_tokens: int) -> Estimate:
    prompt_tokens = basis.history_tokens + basis.attachment_tokens + text_tokens
    prompt = pricing.prompt_usage(
        prompt_tokens, cached=basis.cached_tokens, ttl=basis.ttl,
        cacheable=prompt_tokens >= basis.model.min_cacheable_tokens,
    )
    low = high = None
    if basis.bands:
        low, high = pricing.cost_range(basis.bands, prompt, expected_output=basis.expected_output,
                                       max_output=basis.max_output)
    return Estimate(
        model=basis.model.pk,
        input_tokens=prompt_tokens,
        text_tokens=text_tokens,
        attachment_tokens=basis.attachment_tokens,
        cached_tokens=prompt.cache_read_tokens,
        ttl=basis.ttl,
        expected_output_tokens=min(basis.expected_output, basis.max_output),
        max_output_tokens=basis.max_output,
        cost_low=low,
        cost_high=high,
    )
