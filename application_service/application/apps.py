from django.apps import AppConfig


class ApplicationConfig(AppConfig):
    name = "application"
    verbose_name = "Application"

    def ready(self) -> None:
        from django.conf import settings

        from application_service.celery import app

        # The app's periodic job, in the beat schedule only while the app is installed.
        app.conf.beat_schedule["message-sweep-pending"] = {
            "task": "application.jobs.message_sweep_pending",
            "schedule": settings.MESSAGE_SWEEP_SECONDS,
        }
