"""Which models a user may use (issue 21): each of their groups with a list of allowed
models must allow it; a group without a list allows every model."""

import pytest
from django.contrib.auth.models import Group

from chatapp.models import ClaudeModel, GroupPolicy
from chatapp.safety import model_access
from tests.factories import logged_in, make_user

pytestmark = pytest.mark.django_db


def group(name: str, *members, models=()) -> Group:
    made = Group.objects.create(name=name)
    policy = GroupPolicy.objects.create(group=made)
    policy.allowed_models.set(models)
    for user in members:
        user.groups.add(made)
    return made


def allowed_ids(user) -> set[str]:
    active = ClaudeModel.objects.filter(is_active=True)
    return set(model_access.allowed(active, user.pk).values_list("pk", flat=True))


def every_active() -> set[str]:
    return set(ClaudeModel.objects.filter(is_active=True).values_list("pk", flat=True))


def test_a_user_in_no_group_or_in_groups_without_lists_may_use_every_model():
    user = make_user()
    assert allowed_ids(user) == every_active()
    group("Everyone", user)
    assert allowed_ids(user) == every_active()


def test_each_group_with_a_list_must_allow_the_model():
    user, other = make_user(), make_user()
    group("Interns", user, models=["claude-haiku-5-5", "claude-sonnet-5-5"])
    assert allowed_ids(user) == {"claude-haiku-5-5", "claude-sonnet-5-5"}
    group("Tight", user, models=["claude-haiku-5-5", "claude-opus-5-5"])
    assert allowed_ids(user) == {"claude-haiku-5-5"}
    group("Open", user)  # no list: restricts nothing more
    assert allowed_ids(user) == {"claude-haiku-5-5"}
    assert allowed_ids(other) == every_active()


def test_the_turns_read_of_one_model_agrees_with_the_list(django_assert_num_queries):
    user, other = make_user(), make_user()
    group("Interns", user, models=["claude-haiku-5-5", "claude-sonnet-5-5"])
    group("Tight", user, models=["claude-haiku-5-5", "claude-opus-5-5"])
    group("Open", user)
    ClaudeModel.objects.filter(pk="claude-sonnet-5-5").update(is_active=False)
    for person in (user, other):
        expected = allowed_ids(person)
        for model_id in ClaudeModel.objects.values_list("pk", flat=True):
            with django_assert_num_queries(1):
                found = model_access.active_if_allowed(model_id, person.pk)
            assert (found is not None) == (model_id in expected), (person, model_id)
    found = model_access.active_if_allowed("claude-haiku-5-5", user.pk)
    assert found == ClaudeModel.objects.get(pk="claude-haiku-5-5")
    assert found.capabilities == found.__class__.objects.get(pk=found.pk).capabilities
    assert model_access.active_if_allowed("claude-haiku-5-5", other.pk) is not None


def test_checking_costs_no_statement_of_its_own(django_assert_num_queries):
    user = make_user()
    group("Interns", user, models=["claude-haiku-5-5"])
    with django_assert_num_queries(1):
        assert allowed_ids(user) == {"claude-haiku-5-5"}


def test_the_model_list_offers_only_the_allowed_models():
    user = make_user()
    group("Interns", user, models=["claude-haiku-5-5"])
    body = logged_in(user).get("/api/models/").json()
    assert [m["id"] for m in body["models"]] == ["claude-haiku-5-5"]
    everyone = logged_in(make_user()).get("/api/models/").json()
    assert len(everyone["models"]) == len(every_active())


def test_the_default_is_the_deployments_unless_the_groups_do_not_allow_it(settings):
    settings.CHATAPP_DEFAULT_MODEL = "claude-sonnet-5-5"
    user = make_user()
    assert model_access.default_model(user.pk, "claude-sonnet-5-5") == "claude-sonnet-5-5"
    group("Interns", user, models=["claude-haiku-5-5", "claude-opus-5-5"])
    first = ClaudeModel.objects.filter(pk__in=["claude-haiku-5-5", "claude-opus-5-5"]).first()
    assert model_access.default_model(user.pk, "claude-sonnet-5-5") == first.pk
    body = logged_in(user).get("/api/models/").json()
    assert body["default"] == first.pk


def test_a_new_conversation_without_a_model_gets_one_the_groups_allow():
    import json

    user = make_user()
    group("Interns", user, models=["claude-haiku-5-5"])
    made = logged_in(user).post("/api/conversations/", json.dumps({}),
                                content_type="application/json")
    assert made.status_code in (200, 201) and made.json()["model"] == "claude-haiku-5-5"


def test_the_chat_and_batch_pages_offer_only_the_allowed_models():
    user = make_user()
    group("Interns", user, models=["claude-haiku-5-5"])
    client = logged_in(user)
    for path in ("/", "/batch-jobs/"):
        models = client.get(path).context["models"]
        assert [m["id"] for m in models] == ["claude-haiku-5-5"], path
