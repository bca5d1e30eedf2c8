from typing import Any

from django.apps import AppConfig


# The receivers import their modules when a signal comes: importing them in ``ready()`` pulled
# the anthropic SDK (seconds of CPU) into every process, `make run`'s launcher included, which
# never deletes an attachment nor edits a price (docs/operations.md, "Start-up").
def _delete_attachment_files(**kwargs: Any) -> None:
    from chatapp.attachments import storage

    storage.delete_files_when_committed(**kwargs)


def _forget_prices(**kwargs: Any) -> None:
    from chatapp.billing import prices

    prices.forget_prices(**kwargs)


def _audit_sign_in(**kwargs: Any) -> None:
    from chatapp.audit import receivers

    receivers.on_logged_in(**kwargs)


def _audit_sign_out(**kwargs: Any) -> None:
    from chatapp.audit import receivers

    receivers.on_logged_out(**kwargs)


def _audit_failed_sign_in(**kwargs: Any) -> None:
    from chatapp.audit import receivers

    receivers.on_login_failed(**kwargs)


class ChatappConfig(AppConfig):
    name = "chatapp"
    verbose_name = "Chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from chatapp.models import Attachment, ModelPrice
        from chatapp.policies.safety import content_policy
        from chatapp.replies import orm_thread
        from chatapp.safety import content_checks

        orm_thread.install()  # sockets' and replies' ORM calls: the oldest message's first
        self._hand_in_client_config()

        post_delete.connect(_delete_attachment_files, sender=Attachment)
        # Prices in force are remembered per process; an edited price is used from the next call.
        post_save.connect(_forget_prices, sender=ModelPrice)
        post_delete.connect(_forget_prices, sender=ModelPrice)
        self._end_sockets_with_their_login()
        self._audit_sign_ins()
        from config.env import ConfigurationError

        # A typo in the content policy stops the process now, not at the first reply.
        try:
            content_policy()
        except content_checks.PolicyError as exc:
            raise ConfigurationError(f"CHATAPP_CONTENT_ACTIONS: {exc}") from None

    @staticmethod
    def _hand_in_client_config() -> None:
        """The SDK client asks settings' current values at each call (no SDK import here)."""
        from chatapp.claude import policy as client_policy
        from chatapp.policies.claude import client_config

        client_policy.install(client_config)

    @staticmethod
    def _audit_sign_ins() -> None:
        """Sign-ins, failed sign-ins and sign-outs are audit entries (chatapp/audit/)."""
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        user_logged_in.connect(_audit_sign_in, dispatch_uid="chatapp.audit.sign_in")
        user_logged_out.connect(_audit_sign_out, dispatch_uid="chatapp.audit.sign_out")
        user_login_failed.connect(_audit_failed_sign_in, dispatch_uid="chatapp.audit.failed")

    @staticmethod
    def _end_sockets_with_their_login() -> None:
        """Logout, a new password, deactivation, deletion: the user's sockets close."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save, pre_save

        from chatapp.safety import socket_sessions

        user_model = get_user_model()
        user_logged_out.connect(socket_sessions.on_logged_out)
        pre_save.connect(socket_sessions.on_user_saving, sender=user_model)
        post_save.connect(socket_sessions.on_user_saved, sender=user_model)
        post_delete.connect(socket_sessions.on_user_deleted, sender=user_model)
