from django.db import models


class Counter(models.Model):
    """A named number that requests raise atomically in the database."""

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"
