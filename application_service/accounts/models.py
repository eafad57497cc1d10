from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user, from the first migration, as Django advises for every new project:
    fields can be added later without swapping the user model of a database that has data."""
