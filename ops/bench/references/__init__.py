"""What the bench's processes load beside the project (see ops/bench/__init__.py): the reference
Django projects (baseline, orm, django_json, served by wsgi), the bare Celery app, the no-op job."""
