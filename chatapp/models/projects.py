"""Projects: a team's instructions and documents, shared with members, used by many
conversations (issue 20). A project's documents are ``Attachment`` rows with ``project`` set
and no conversation; a conversation started in a project names it (``Conversation.project``).

Who may do what is decided in ``chatapp/projects/access.py``.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q


class Project(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    # The project's system prompt.
    instructions = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.name


class ProjectRole(models.TextChoices):
    # Chat in the project and read its documents.
    USE = "use", "Use"
    # Also change its name, instructions and documents.
    EDIT = "edit", "Edit"


class ProjectMembership(models.Model):
    """One user, or everyone in one group, given a role in a project (never both on a row)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="project_memberships",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE,
        related_name="project_memberships",
    )
    role = models.CharField(max_length=4, choices=ProjectRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False, group__isnull=True)
                           | Q(user__isnull=True, group__isnull=False)),
                name="membership_user_or_group",
            ),
            models.UniqueConstraint(
                fields=["project", "user"], condition=Q(user__isnull=False),
                name="one_membership_per_user",
            ),
            models.UniqueConstraint(
                fields=["project", "group"], condition=Q(group__isnull=False),
                name="one_membership_per_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.group} ({self.role}) in {self.project}"
