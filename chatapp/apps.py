from django.apps import AppConfig


class ChatappConfig(AppConfig):
    name = "chatapp"
    verbose_name = "Chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from chatapp import attachments, content_checks
        from chatapp.models import Attachment

        post_delete.connect(attachments.delete_files_when_committed, sender=Attachment)
        from config.env import ConfigurationError

        # A typo in the content policy stops the process now, not at the first reply.
        try:
            content_checks.policy_from_settings()
        except content_checks.PolicyError as exc:
            raise ConfigurationError(f"CHATAPP_CONTENT_ACTIONS: {exc}") from None
