from django.conf import settings
from django.db import models

MESSAGE_TEXT_MAX_LENGTH = 500


class Counter(models.Model):
    """A named number that requests raise atomically in the database."""

    HELLO = "hello"  # the hello page's
    MESSAGES_PROCESSED = "messages-processed"  # raised by each processed message

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"


class Message(models.Model):
    """A short text written by a user; the API's sample resource."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages")
    text = models.CharField(max_length=MESSAGE_TEXT_MAX_LENGTH)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list's default order and its cursor, then the filters that narrow it.
            models.Index(fields=["created_at", "id"], name="message_created_idx"),
            models.Index(fields=["author", "created_at"], name="message_author_created_idx"),
            models.Index(fields=["status", "created_at"], name="message_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.author_id}: {self.text[:40]}"
