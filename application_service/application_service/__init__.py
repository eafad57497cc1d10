"""The project package: settings, urls, entry points and the platform every service needs.

The Celery app is loaded with the package, so that every app's shared jobs bind to it.
"""

from application_service.celery import app as celery_app

__all__ = ("celery_app",)
