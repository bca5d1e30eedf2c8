"""The data chatapp keeps: conversations and their messages, the model catalog with its
prices, one usage record for every call that reached Claude (and its per-day sums), and the
monthly budgets with each user's spend.

Fields, constraints and small derived properties only: no network and no file I/O here.
"""

# Migrations and the rest of the app import from ``chatapp.models``: every model and helper is
# re-exported here from the module of its domain.
from chatapp.models.accounts import (
    ProviderIdentity,
)
from chatapp.models.attachments import (
    Attachment,
    AttachmentKind,
    attachment_path,
)
from chatapp.models.audit import (
    AppendOnlyError,
    AuditAction,
    AuditEntry,
)
from chatapp.models.batches import (
    BatchItem,
    BatchItemStatus,
    BatchJob,
    BatchJobStatus,
    MessageBatch,
    MessageBatchStatus,
    new_custom_id,
)
from chatapp.models.billing import (
    Budget,
    BudgetReservation,
    CallPurpose,
    DailyUsage,
    GroupMonthlySpend,
    GroupPolicy,
    MonthlySpend,
    UsageRecord,
)
from chatapp.models.catalog import (
    ClaudeModel,
    ImageTier,
    ModelLifecycle,
    ModelPrice,
    ModelTier,
)
from chatapp.models.conversations import (
    AUTO_MODEL,
    CacheTtl,
    Conversation,
    Message,
    MessageQuerySet,
    MessageStatus,
    PromptPreset,
    Role,
)
from chatapp.models.projects import (
    Project,
    ProjectMembership,
    ProjectRole,
)
from chatapp.models.safety import (
    ContentFlag,
    FlagAction,
    FlagCategory,
    FlaggedMessage,
)
from chatapp.models.usage import (
    UsageFields,
)

__all__ = [
    "AUTO_MODEL",
    "AppendOnlyError",
    "Attachment",
    "AttachmentKind",
    "AuditAction",
    "AuditEntry",
    "BatchItem",
    "BatchItemStatus",
    "BatchJob",
    "BatchJobStatus",
    "Budget",
    "BudgetReservation",
    "CacheTtl",
    "CallPurpose",
    "ClaudeModel",
    "ContentFlag",
    "Conversation",
    "DailyUsage",
    "FlagAction",
    "FlagCategory",
    "FlaggedMessage",
    "GroupMonthlySpend",
    "GroupPolicy",
    "ImageTier",
    "Message",
    "MessageBatch",
    "MessageBatchStatus",
    "MessageQuerySet",
    "MessageStatus",
    "ModelLifecycle",
    "ModelPrice",
    "ModelTier",
    "MonthlySpend",
    "Project",
    "ProjectMembership",
    "ProjectRole",
    "PromptPreset",
    "ProviderIdentity",
    "Role",
    "UsageFields",
    "UsageRecord",
    "attachment_path",
    "new_custom_id",
]
