from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from notifications.inbox_tokens import inbox_token_log_masking_install
        from notifications.lookup_cache import lookup_caches_clear
        from notifications.models import ApiKey, Category

        inbox_token_log_masking_install()
        for model in (ApiKey, Category):
            for signal in (post_save, post_delete):
                signal.connect(lookup_caches_clear, sender=model, dispatch_uid=f"lookup_caches_clear:{model.__name__}")
