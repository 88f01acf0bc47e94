from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications.inbox_tokens import inbox_token_log_masking_install

        inbox_token_log_masking_install()
