"""A batch job's model must be one the owner's groups allow (issue 21)."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import BadRequest

from chatapp.batches import jobs
from chatapp.models import BatchJob, GroupPolicy
from chatapp.policies.batches import job_limits
from tests.factories import make_text_document, make_user

pytestmark = pytest.mark.django_db


def test_a_job_on_a_model_not_allowed_is_refused_and_nothing_is_saved(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    user = make_user()
    interns = Group.objects.create(name="Interns")
    GroupPolicy.objects.create(group=interns).allowed_models.set(["claude-haiku-5-5"])
    user.groups.add(interns)
    document = make_text_document(user, "Lease.")
    job = {"document_ids": [document.pk], "prompt": "Who pays?"}
    with pytest.raises(BadRequest, match="not among the models your groups allow"):
        jobs.create_job(user, limits=job_limits(), model_id="claude-opus-5-5", **job)
    assert not BatchJob.objects.exists()
    created = jobs.create_job(user, limits=job_limits(), model_id="claude-haiku-5-5", **job)
    assert created.model == "claude-haiku-5-5"
