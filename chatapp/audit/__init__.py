"""The audit log (issue 21): who did what, when, from which address, to which object.

Edges call ``audit.record(action, request, target=obj, detail={...})`` (``arecord`` from async
views); sign-ins come from the auth signals (``receivers``), admin changes from the admin's own
log hooks (``admin_changes.AuditedAdmin``). Staff read the entries in the admin and download
them as CSV (``exports``, ``GET /api/audit/``); ``retention`` prunes old ones
(``manage.py prune_audit``). Nothing here runs on a reply's path.
"""

from chatapp.audit.log import Target, arecord, client_address, record, target_of
from chatapp.models import AuditAction

__all__ = ["AuditAction", "Target", "arecord", "client_address", "record", "target_of"]
