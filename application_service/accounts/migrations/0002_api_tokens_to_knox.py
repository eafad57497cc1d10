"""API tokens move from DRF's authtoken (keys stored in plain text) to django-rest-knox (hashes).

A database that ran the earlier version holds `authtoken_token`: each key there becomes a knox
token (the hash of the key and its first characters, as knox stores its own), with knox's expiry
from now, so that its client keeps working until then; then the table is dropped, plain-text keys
with it, and authtoken's migration records and content types are forgotten (the app is no longer
installed). A database without that table (a new one) has nothing to move.

Reversing it leaves the knox tokens: the plain-text keys cannot come back.
"""

import datetime

from django.db import migrations
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS, knox_settings

LEGACY_TABLE = "authtoken_token"
LEGACY_APP = "authtoken"


def move_tokens_to_knox(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    database = connection.alias
    AuthToken = apps.get_model("knox", "AuthToken")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} "  # noqa: S608
                       f"FROM {quote(LEGACY_TABLE)}")
        legacy = cursor.fetchall()
    ttl = knox_settings.TOKEN_TTL
    expiry = timezone.now() + ttl if ttl is not None else None
    for key, user_id, created in legacy:
        digest = hash_token(key)
        AuthToken.objects.using(database).create(digest=digest, token_key=key[:CONSTANTS.TOKEN_KEY_LENGTH],
                                                 user_id=user_id, expiry=expiry)
        # created is set on insert (auto_now_add): keep the key's own date (read raw: naive UTC).
        if timezone.is_naive(created):
            created = timezone.make_aware(created, datetime.UTC)
        AuthToken.objects.using(database).filter(digest=digest).update(created=created)
    schema_editor.execute(f"DROP TABLE {quote(LEGACY_TABLE)}")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote('django_migrations')} WHERE {quote('app')} = %s",  # noqa: S608
                       [LEGACY_APP])
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(database).filter(app_label=LEGACY_APP).delete()  # and their permissions


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [
        migrations.RunPython(move_tokens_to_knox, migrations.RunPython.noop, elidable=True),
    ]
