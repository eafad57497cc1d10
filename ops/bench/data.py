"""The bench's databases: created fresh, migrated, seeded in bulk by SQL, read, dropped.

Rows are made by INSERT ... SELECT over a sequence built from cross-joined digit tables (MySQL 8
and MariaDB alike), so 100,000 messages take about a second and no ORM loop.
"""

from __future__ import annotations

from datetime import UTC

from application_service import database

AUTHOR = "bench-author"
USER_TABLE = "accounts_user"  # the project's user model's (accounts.User)
# created_at of the n-th seeded message: one second apart from here, n = 0 the oldest.
SEED_EPOCH = "2020-01-01 00:00:00"
# Messages for the job bench: older than every seeded one, so they never reach a list's first page.
PENDING_EPOCH = "2010-01-01 00:00:00"
DIGITS = " UNION ALL ".join(f"SELECT {digit} AS d" for digit in range(10))


def connect(config: dict):
    return database.connect(config, with_name=True, autocommit=True, charset=database.CHARSET)


def drop_database(config: dict) -> None:
    connection = connect({**config, "NAME": ""})
    try:
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{config['NAME'].replace('`', '``')}`")
    finally:
        connection.close()


def sequence_sql(count: int) -> str:
    """A derived table `seq` of the numbers 0 .. count-1 in a column n."""
    places = len(str(max(count - 1, 1)))
    tables = " CROSS JOIN ".join(f"({DIGITS}) d{place}" for place in range(places))
    number = " + ".join(f"d{place}.d * {10 ** place}" for place in range(places))
    return f"(SELECT n FROM (SELECT {number} AS n FROM {tables}) digits WHERE n < {count:d}) seq"  # noqa: S608 (numbers only)


def author_sql() -> str:
    """The author of every seeded message: a plain user that cannot sign in (password '!')."""
    return (f"INSERT INTO {USER_TABLE} (password, is_superuser, username, first_name, last_name, "  # noqa: S608
            "email, is_staff, is_active, date_joined) "
            "VALUES ('!', 0, %s, '', '', '', 0, 1, UTC_TIMESTAMP(6))")


def messages_sql(count: int, *, status: str, epoch: str) -> str:
    """Insert `count` messages by the author given as the one parameter, a second apart from epoch."""
    return ("INSERT INTO application_message (author_id, text, status, created_at, updated_at) "  # noqa: S608
            f"SELECT %s, CONCAT('Message ', n, ': a short text, as the API is written to.'), "
            f"'{status}', TIMESTAMP('{epoch}') + INTERVAL n SECOND, "
            f"TIMESTAMP('{epoch}') + INTERVAL n SECOND FROM {sequence_sql(count)}")


def seed(connection, *, rows: int) -> int:
    """The author and `rows` processed messages; returns the middle message's id."""
    with connection.cursor() as cursor:
        cursor.execute(author_sql(), [AUTHOR])
        author_id = cursor.lastrowid
        cursor.execute(messages_sql(rows, status="processed", epoch=SEED_EPOCH), [author_id])
        cursor.execute("SELECT id FROM application_message ORDER BY created_at, id LIMIT 1 OFFSET %s",
                       [rows // 2])
        (middle,) = cursor.fetchone()
        # Statistics as a table that grew over time has them: fresh from a bulk insert, they are
        # missing until a background recount, and the optimizer then sorts the whole table.
        cursor.execute(f"ANALYZE TABLE {USER_TABLE}, application_message")
        cursor.fetchall()
    return int(middle)


def insert_pending(connection, count: int) -> list[int]:
    """`count` new pending messages by the bench author (for the message job); their ids."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {USER_TABLE} WHERE username = %s", [AUTHOR])  # noqa: S608
        (author_id,) = cursor.fetchone()
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM application_message")
        (last,) = cursor.fetchone()
        cursor.execute(messages_sql(count, status="pending", epoch=PENDING_EPOCH), [author_id])
        cursor.execute("SELECT id FROM application_message WHERE id > %s AND status = 'pending' "
                       "ORDER BY id", [last])
        return [int(row[0]) for row in cursor.fetchall()]


def count_processed(connection, ids: list[int]) -> int:
    """How many messages of `ids` are processed. The ids are one batch of insert_pending, which
    no other insert runs beside, so no other message's id falls between the least and the most."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM application_message "
                       "WHERE id BETWEEN %s AND %s AND status = 'processed'", [min(ids), max(ids)])
        (count,) = cursor.fetchone()
    return int(count)


def processed_times(connection, ids: list[int]) -> dict[int, float]:
    """Epoch seconds at which each processed message of `ids` was processed (its updated_at, UTC)."""
    if not ids:
        return {}
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, updated_at FROM application_message "  # noqa: S608
                       f"WHERE status = 'processed' AND id IN ({placeholders})", ids)
        return {int(pk): stamp.replace(tzinfo=UTC).timestamp() for pk, stamp in cursor.fetchall()}


def sample_ids(connection, count: int) -> list[int]:
    """`count` ids of messages picked at random (the soak's reads and edits)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM application_message ORDER BY RAND() LIMIT %s", [count])
        return [int(row[0]) for row in cursor.fetchall()]


def last_message_id(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM application_message")
        (last,) = cursor.fetchone()
    return int(last)


def messages_after(connection, last_id: int) -> tuple[int, int]:
    """Messages written after `last_id` (each published its job when it was saved), and how many of
    them are processed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COALESCE(SUM(status = 'processed'), 0) FROM application_message "
                       "WHERE id > %s", [last_id])
        written, processed = cursor.fetchone()
    return int(written), int(processed)
