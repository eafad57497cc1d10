from django.apps import AppConfig


class ApplicationConfig(AppConfig):
    name = "application"
    verbose_name = "Application"

    def ready(self) -> None:
        # Make the project's Celery app the current one in every process that runs Django,
        # so that jobs published from the web go to the configured broker.
        import application_service.celery  # noqa: F401
