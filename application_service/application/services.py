"""Writes. Keyword-only, typed, named <entity>_<action>."""

import functools

from django.contrib.auth.models import AbstractBaseUser
from django.db import connections, router, transaction
from rest_framework.authtoken.models import Token

from application.models import Counter, Message

HELLO_COUNTER = "hello"


def counter_increment(*, name: str = HELLO_COUNTER) -> int:
    """Raise the counter by one and return the value this call produced.

    The UPDATE is atomic in the database and takes the row lock, so the SELECT inside the same
    transaction reads exactly this call's value, however many workers run at once. A missing
    row is created in a statement of its own first, outside the locking transaction, so that
    concurrent first uses cannot deadlock on the insert.

    The page calls this on every request, so it sends the two statements as written SQL: the
    ORM would build the same two statements, at twice the CPU of the rest of the request.
    """
    connection = connections[router.db_for_write(Counter)]
    table = connection.ops.quote_name(Counter._meta.db_table)  # the model's, never user input
    update = f"UPDATE {table} SET value = value + 1 WHERE name = %s"  # noqa: S608
    select = f"SELECT value FROM {table} WHERE name = %s"  # noqa: S608
    for _ in range(2):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(update, [name])
            if cursor.rowcount:
                cursor.execute(select, [name])
                return cursor.fetchone()[0]
        Counter.objects.get_or_create(name=name)
    raise Counter.DoesNotExist(f"counter {name!r} disappeared while being raised")


def message_create(*, author: AbstractBaseUser, text: str) -> Message:
    """Write a message as `author`; it starts pending, for the processing jobs to pick up."""
    from application.processing import message_enqueue_processing  # processing imports this module

    message = Message(author=author, text=text)
    message.full_clean()
    message.save()
    # Publish only once the row is committed: a worker must find it. If the broker is down the
    # message stays pending and the periodic sweep publishes it later.
    transaction.on_commit(functools.partial(message_enqueue_processing, message_id=message.pk))
    return message


def message_update(*, message: Message, text: str | None = None) -> Message:
    """Change what is given; with nothing given, nothing is written (updated_at stays)."""
    if text is None:
        return message
    message.text = text
    message.full_clean()
    message.save(update_fields=["text", "updated_at"])
    return message


def message_delete(*, message: Message) -> None:
    message.delete()


def auth_token_obtain(*, user: AbstractBaseUser) -> Token:
    """The user's API token, created on first use; every client of the user shares it."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def auth_token_revoke(*, user: AbstractBaseUser) -> None:
    """Delete the user's token: every client using it is signed out; the next obtain makes a new one."""
    Token.objects.filter(user=user).delete()
