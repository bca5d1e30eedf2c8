"""Before sending: what the message being typed will cost, worked out by hand.

The offline upstream counts ⌈characters / 4⌉ + 3 tokens for a short user message on
claude-sonnet-4-6, so "hello world!" is 6 tokens. Sonnet 4.6: $3 input, $3.75 5-minute
write, $0.30 read, $15 output per million; it caches prompts from 1,024 tokens.
"""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient
from django.utils import timezone

from chatapp.models import Attachment, ClaudeModel, Message, ModelPrice, Project
from tests.factories import make_conversation, make_exchange, make_text_document, make_user

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def without_tools(settings):
    settings.CHATAPP_TOOLS = False  # tool definitions would add tokens of their own


@pytest.fixture
async def user():
    return await database_sync_to_async(make_user)()


async def ask(user, **body):
    client = AsyncClient()
    await client.aforce_login(user)
    body.setdefault("model", "claude-sonnet-4-6")
    return await client.post("/api/estimate/", json.dumps(body), content_type="application/json")


def _conversation_after_a_reply(owner, **reply_fields):
    """A conversation whose last call sent 3,010 prompt tokens (3,000 written to the cache)
    and got 200 back."""
    conversation = make_conversation(owner)
    reply_fields.setdefault("model", "claude-sonnet-4-6")
    _, reply = make_exchange(conversation, "first question", "first answer",
                             input_tokens=10, cache_write_5m_tokens=3000, output_tokens=200,
                             cost_usd=Decimal("0.0145"))
    Message.objects.filter(pk=reply.pk).update(**reply_fields)
    return conversation


async def test_a_first_message_is_counted_whole_and_too_short_to_cache(claude, user):
    body = (await ask(user, text="hello world!")).json()
    assert body["input_tokens"] == 6 and body["cached_tokens"] == 0
    assert body["expected_output_tokens"] == 500 and body["max_output_tokens"] == 8192
    # 6 × $3, then 500 or 8,192 × $15, per million
    assert Decimal(body["cost_low_usd"]) == Decimal("0.000018") + Decimal("0.0075")
    assert Decimal(body["cost_high_usd"]) == Decimal("0.000018") + Decimal("0.12288")
    assert [r["path"] for r in claude.requests()] == ["/v1/messages/count_tokens"]


async def test_the_previous_prompt_is_expected_from_the_cache(claude, user):
    conversation = await database_sync_to_async(_conversation_after_a_reply)(user)
    body = (await ask(user, conversation=conversation.pk, text="hello world!")).json()
    # 3,010 sent before + the 200-token reply + 6 new
    assert body["input_tokens"] == 3216
    assert body["cached_tokens"] == 3010 and body["cache_share"] == round(3010 / 3216, 4)
    assert body["ttl"] == "5m" and body["text_tokens"] == 6
    # 3,010 read × $0.30 + 206 written × $3.75 + a typical reply: this user's only one, 200
    assert body["expected_output_tokens"] == 200
    assert Decimal(body["cost_low_usd"]) == Decimal("0.000903") + Decimal("0.0007725") + (
        Decimal("0.003")
    )
    # Only the new text was counted: the history came from the last call's usage.
    [counted] = [r["body"] for r in claude.requests()]
    assert counted["messages"] == [{"role": "user", "content": "hello world!"}]


@pytest.mark.parametrize(
    "change",
    [{"created_at": timezone.now() - timedelta(minutes=10)},  # the entry has expired
     {"model": "claude-haiku-4-5"},  # another model caches nothing for this one
     {"options": {"thinking": "high"}}],  # thinking changed: the messages miss
)
async def test_nothing_is_expected_from_the_cache_when_it_cannot_hit(claude, user, change):
    conversation = await database_sync_to_async(_conversation_after_a_reply)(user, **change)
    body = (await ask(user, conversation=conversation.pk, text="hello world!")).json()
    assert body["cached_tokens"] == 0 and body["input_tokens"] == 3216


async def test_attachments_count_as_they_were_counted_at_upload(claude, user):
    def build():
        conversation = make_conversation(user)
        common = {"owner": user, "conversation": conversation, "original": "x", "sha256": "0",
                  "size": 1}
        document = Attachment.objects.create(kind="document", name="a.txt", tokens=1234,
                                             media_type="text/plain",
                                             original_media_type="text/plain", **common)
        # 1000 × 1000 px: ⌈1000/28⌉² = 1,296 tokens on the standard tier (no downscale)
        image = Attachment.objects.create(kind="image", name="b.png", tokens=1, width=1000,
                                          height=1000, media_type="image/png",
                                          original_media_type="image/png", **common)
        return conversation, document, image

    conversation, document, image = await database_sync_to_async(build)()
    body = (await ask(user, conversation=conversation.pk, text="hello world!",
                      attachments=[document.pk, image.pk])).json()
    assert body["attachment_tokens"] == 1234 + 1296
    assert body["input_tokens"] == 6 + 1234 + 1296
    # Typing again counts only the text: the attachments are not sent to count_tokens.
    assert all("b.png" not in json.dumps(r["body"]) for r in claude.requests())


async def test_someone_elses_conversation_or_attachment_is_404(claude, user):
    stranger = await database_sync_to_async(make_user)()
    theirs = await database_sync_to_async(make_conversation)(stranger)
    assert (await ask(user, conversation=theirs.pk, text="hi")).status_code == 404
    mine = await database_sync_to_async(make_conversation)(user)
    response = await ask(user, conversation=mine.pk, text="hi", attachments=[424242])
    assert response.status_code == 404
    assert "not waiting in this conversation" in response.json()["error"]


async def test_a_typical_reply_is_the_median_of_the_users_recent_ones(claude, user):
    def build():
        conversation = make_conversation(user)
        for tokens in (100, 300, 900):
            make_exchange(conversation, "q", "a", output_tokens=tokens)

    await database_sync_to_async(build)()
    body = (await ask(user, text="hello world!")).json()
    assert body["expected_output_tokens"] == 300


async def test_a_model_without_a_price_has_tokens_but_no_cost(claude, user):
    await ModelPrice.objects.filter(model_id="claude-haiku-4-5").adelete()
    body = (await ask(user, text="hello world!", model="claude-haiku-4-5")).json()
    assert body["input_tokens"] == 6
    assert body["cost_low_usd"] is None and body["cost_high_usd"] is None


async def test_a_model_the_api_does_not_know_makes_the_estimate_unavailable(claude, user):
    await ClaudeModel.objects.acreate(
        id="claude-sonnet-4-6-mirror", display_name="Mirror", tier="sonnet",
        context_window=200_000, max_output_tokens=8192, image_tier="standard",
        min_cacheable_tokens=1024,
    )
    response = await ask(user, text="hi", model="claude-sonnet-4-6-mirror")
    assert response.status_code == 503
    assert response.json()["error"].startswith("The estimate is unavailable:")


async def test_an_unreachable_api_makes_the_estimate_unavailable(settings, user):
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"
    settings.ANTHROPIC_MAX_RETRIES = 0
    response = await ask(user, text="hello")
    assert response.status_code == 503
    assert "unavailable" in response.json()["error"]


async def test_bad_input_is_refused_in_plain_words(claude, user):
    response = await ask(user, text=5)
    assert response.status_code == 400 and "text must be text" in response.json()["error"]
    response = await ask(user, text="hi", attachments=["one"])
    assert response.json()["error"] == "attachments must be a list of ids."
    assert (await ask(user, text="hi", model="gpt-9")).status_code == 404


async def test_a_model_the_users_groups_do_not_allow_is_refused_as_sending_would_be(
    claude, user
):
    from django.contrib.auth.models import Group

    from chatapp.models import GroupPolicy

    def only_haiku():
        group = Group.objects.create(name="Interns")
        GroupPolicy.objects.create(group=group).allowed_models.set(["claude-haiku-5-5"])
        user.groups.add(group)

    await database_sync_to_async(only_haiku)()
    response = await ask(user, text="hi", model="claude-opus-5-5")
    assert response.status_code == 403
    assert response.json()["error"].startswith(
        "Claude Opus 5.5 is not among the models your groups allow.")
    assert (await ask(user, text="hi", model="claude-haiku-5-5")).status_code == 200


async def direct(user, model, **body):
    """The estimate for one chosen model, to hold Auto's range against."""
    return (await ask(user, model=model, **body)).json()


async def test_auto_is_estimated_as_the_model_its_rule_picks(claude, settings, user):
    # An ordinary question scores in the middle of Sonnet's range: no confirming call.
    text = "What does this error mean? " + "The stack trace says a key is missing. " * 8
    response = await ask(user, model="auto", text=text)
    assert response.status_code == 200
    body = response.json()
    [pick] = body["auto_models"]
    assert body["auto"] is True and body["model"] == pick and pick.startswith("claude-sonnet")
    alone = await direct(user, pick, text=text)
    assert (body["cost_low_usd"], body["cost_high_usd"]) == (
        alone["cost_low_usd"], alone["cost_high_usd"])
    assert body["input_tokens"] == alone["input_tokens"]


async def test_when_auto_may_still_change_its_mind_the_range_spans_every_tier(claude, user):
    # "Hi there!" sits on the border of the cheapest tier: Auto asks Haiku to confirm, and
    # its answer may send the message to any tier.
    body = (await ask(user, model="auto", text="Hi there!")).json()
    assert body["model"] == "claude-haiku-5-5"
    tiers = body["auto_models"]
    assert tiers[0] == "claude-haiku-5-5" and len(tiers) == 3
    assert [t.split("-")[1] for t in tiers] == ["haiku", "sonnet", "opus"]
    each = [await direct(user, model, text="Hi there!") for model in tiers]
    assert Decimal(body["cost_low_usd"]) == min(Decimal(e["cost_low_usd"]) for e in each)
    assert Decimal(body["cost_high_usd"]) == max(Decimal(e["cost_high_usd"]) for e in each)
    # The text was counted once per model (their tokenizers differ), and nothing was sent.
    paths = [r["path"] for r in claude.requests()]
    assert paths.count("/v1/messages/count_tokens") == 3 + 3 and "/v1/messages" not in paths


async def test_without_the_confirming_call_auto_goes_where_its_rule_says(claude, settings, user):
    settings.CHATAPP_ROUTER_CONFIRM = False
    body = (await ask(user, model="auto", text="Hi there!")).json()
    assert body["auto_models"] == ["claude-haiku-5-5"]


async def test_a_conversation_set_to_auto_is_estimated_too(claude, user):
    def build():
        conversation = _conversation_after_a_reply(user)
        conversation.model = "auto"
        conversation.save(update_fields=["model"])
        return conversation

    conversation = await database_sync_to_async(build)()
    # The composer may send the conversation's own setting, or no model at all.
    for model in ("auto", None):
        response = await ask(user, conversation=conversation.pk, model=model,
                             text="hello world!")
        assert response.status_code == 200, response.content
        assert response.json()["auto"] is True


async def test_a_chosen_model_is_not_auto(claude, user):
    body = (await ask(user, text="hello world!")).json()
    assert body["auto"] is False and body["auto_models"] == []


async def test_an_imported_replys_usage_is_not_taken_for_a_call_of_ours(claude, user):
    """An imported reply shows the original account's usage; its prompt held files that did
    not come and its cache entry was never ours: the estimate expects no cache hit."""
    from chatapp.conversations import imports
    from chatapp.conversations.policy import ConversationDefaults

    data = {"format": "chatapp.conversation", "version": 1, "conversation": {},
            "messages": [{"role": "user", "text": "first question"},
                         {"role": "assistant", "text": "first answer", "model": "claude-sonnet-4-6",
                          "usage": {"input_tokens": 10, "cache_write_5m_tokens": 3000,
                                    "output_tokens": 200}, "cost_usd": "0.0145"}]}
    defaults = ConversationDefaults(model="claude-sonnet-5-5", max_output_tokens=8192)
    imported = await database_sync_to_async(imports.import_conversation)(user, data, defaults)
    body = (await ask(user, conversation=imported.conversation.pk, text="hello world!")).json()
    assert body["cached_tokens"] == 0
    assert body["input_tokens"] < 3000  # the words themselves, not the original prompt


def _project_after_a_reply(owner, **reply_fields):
    """A project with a 3,000-token document, one of whose conversations was just answered;
    and a new conversation in it, nothing asked yet."""
    project = Project.objects.create(owner=owner, name="Leases")
    make_text_document(owner, name="lease.md", conversation=None, project=project, tokens=3000)
    answered = _conversation_after_a_reply(owner, **reply_fields)
    answered.project = project
    answered.save(update_fields=["project"])
    return make_conversation(owner, project=project)


async def test_a_projects_first_question_expects_its_documents_from_the_cache(claude, user):
    """A conversation's first question in a project carries the project's documents, which
    another conversation of the project has just written to the cache."""
    fresh = await database_sync_to_async(_project_after_a_reply)(user)
    body = (await ask(user, conversation=fresh.pk, text="hello world!")).json()
    assert body["input_tokens"] == 3006 and body["cached_tokens"] == 3000
    # Not when the project's last reply was ten minutes ago: the entry has expired.
    expired = await database_sync_to_async(_project_after_a_reply)(
        user, created_at=timezone.now() - timedelta(minutes=10))
    body = (await ask(user, conversation=expired.pk, text="hello world!")).json()
    assert body["input_tokens"] == 3006 and body["cached_tokens"] == 0
