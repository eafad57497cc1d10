from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import auth_token_create
from application.models import MESSAGE_TEXT_MAX_LENGTH, Message
from application.services import message_create
from ops.testing import client_for, in_own_connection

pytestmark = pytest.mark.django_db

MESSAGES = "/api/v1/messages/"


def detail(message: Message) -> str:
    return f"{MESSAGES}{message.pk}/"


@pytest.fixture
def message(author):
    return message_create(author=author, text="first words")


def test_anyone_may_list_and_read(anonymous, message, author):
    listed = anonymous.get(MESSAGES)
    assert listed.status_code == 200
    assert listed.json()["results"] == [anonymous.get(detail(message)).json()]
    body = anonymous.get(detail(message)).json()
    assert body["author"] == {"id": author.pk}  # no username: the public API lists no accounts
    assert listed.json()["results"][0]["author"] == {"id": author.pk}
    assert body["text"] == "first words"
    assert body["status"] == "pending"
    assert set(body) == {"id", "author", "text", "status", "created_at", "updated_at"}


def test_signed_in_readers_see_the_authors_username(other, message, author):
    client = client_for(other)
    expected = {"id": author.pk, "username": "author"}
    assert client.get(detail(message)).json()["author"] == expected
    assert client.get(MESSAGES).json()["results"][0]["author"] == expected


def test_anonymous_may_not_write(anonymous, message):
    for response in (anonymous.post(MESSAGES, {"text": "hi"}),
                     anonymous.patch(detail(message), {"text": "hi"}),
                     anonymous.delete(detail(message))):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"
    message.refresh_from_db()
    assert message.text == "first words"


def test_an_authenticated_user_creates_as_author(author):
    response = client_for(author).post(MESSAGES, {"text": "Grüße, 世界 🚀"})
    assert response.status_code == 201
    body = response.json()
    assert body["author"]["id"] == author.pk
    assert body["status"] == "pending"
    assert Message.objects.get(pk=body["id"]).text == "Grüße, 世界 🚀"  # utf8mb4 in ci


def test_clients_cannot_choose_author_or_status(author, other):
    response = client_for(author).post(MESSAGES, {"text": "x", "status": "processed", "author": other.pk})
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields["status"] == [{"code": "unknown_field", "message": "Unknown field."}]
    assert fields["author"][0]["code"] == "unknown_field"
    assert not Message.objects.exists()


@pytest.mark.parametrize(("payload", "field", "code"), [
    ({}, "text", "required"),
    ({"text": ""}, "text", "blank"),
    ({"text": " \t\u3000\n"}, "text", "blank"),
    ({"text": 0}, "text", "invalid"),
    ({"text": True}, "text", "invalid"),
    ({"text": None}, "text", "null"),
    ({"text": "x" * (MESSAGE_TEXT_MAX_LENGTH + 1)}, "text", "max_length"),
    # The schema limits the text as sent: white space that trimming would remove still counts.
    ({"text": "    " + "x" * (MESSAGE_TEXT_MAX_LENGTH - 3)}, "text", "max_length"),
    ({"text": "nul \x00 byte"}, "text", "null_characters_not_allowed"),
    ({"text": "lone \ud800 surrogate"}, "text", "surrogate_characters_not_allowed"),
    ({"text": ["a list"]}, "text", "invalid"),
    ({"text": "ok", "txt": "typo"}, "txt", "unknown_field"),
    (["not", "an", "object"], "non_field_errors", "invalid"),
])
def test_create_reports_each_invalid_field(author, payload, field, code):
    body = json.dumps(payload)  # ASCII: a lone surrogate travels as the escape \ud800
    response = client_for(author).post(MESSAGES, body, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"] == "The request is not valid."
    assert [error["code"] for error in body["fields"][field]] == [code]
    assert not Message.objects.exists()


def test_validation_messages_are_for_people(author):
    response = client_for(author).post(MESSAGES, {"text": "x" * 501, "colour": "red"})
    assert response.json() == {
        "code": "validation_error",
        "message": "The request is not valid.",
        "fields": {
            "text": [{"code": "max_length", "message": "Ensure this field has no more than 500 characters."}],
            "colour": [{"code": "unknown_field", "message": "Unknown field."}],
        },
    }
    response = client_for(author).post(MESSAGES, {})
    assert response.json()["fields"] == {"text": [{"code": "required", "message": "This field is required."}]}


def test_text_of_exactly_the_maximum_length_in_four_byte_characters_is_stored(author):
    text = "🚀" * MESSAGE_TEXT_MAX_LENGTH
    response = client_for(author).post(MESSAGES, {"text": text})
    assert response.status_code == 201
    assert Message.objects.get().text == text


@pytest.mark.parametrize("who", ["author", "staff"])
def test_author_and_staff_may_edit_and_delete(request, message, who):
    client = client_for(request.getfixturevalue(who))
    response = client.patch(detail(message), {"text": "second thoughts"})
    assert response.status_code == 200
    assert response.json()["text"] == "second thoughts"
    assert response.json()["updated_at"] > response.json()["created_at"]
    message.refresh_from_db()
    assert message.text == "second thoughts"
    assert message.author.username == "author"  # staff edits keep the author
    response = client.delete(detail(message))
    assert response.status_code == 204
    assert response.content == b""
    assert not Message.objects.filter(pk=message.pk).exists()


def test_other_users_may_read_but_not_edit_or_delete(other, message):
    client = client_for(other)
    assert client.get(detail(message)).status_code == 200
    for response in (client.patch(detail(message), {"text": "mine now"}), client.delete(detail(message))):
        assert response.status_code == 403
        assert response.json() == {
            "code": "permission_denied",
            "message": "Only the author of this message, or staff, may change or delete it.",
        }
    message.refresh_from_db()
    assert message.text == "first words"


def test_an_empty_patch_changes_nothing(author, message):
    before = message.updated_at
    response = client_for(author).patch(detail(message), {})
    assert response.status_code == 200
    assert response.json()["text"] == "first words"
    message.refresh_from_db()
    assert message.updated_at == before


def test_update_validates_like_create(author, message):
    response = client_for(author).patch(detail(message), {"text": "", "status": "failed"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"text", "status"}


def test_missing_messages_are_404_in_the_error_shape(anonymous, author):
    for path in (f"{MESSAGES}999999/", f"{MESSAGES}99999999999999999999999/"):
        response = anonymous.get(path)
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "No message has this id."}
    assert client_for(author).delete(f"{MESSAGES}999999/").status_code == 404
    response = anonymous.get(f"{MESSAGES}-1/")  # no route: Django's 404, same shape
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def wait_for_a_lock_wait(timeout: float = 20.0) -> None:
    """Until some transaction waits for a row lock (which the test's own transaction holds)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'")
            if cursor.fetchone()[0]:
                return
            # InnoDB refreshes this table's snapshot only once it has gone unread for 0.1 s.
            time.sleep(0.2)
    pytest.fail("the request never waited for the message's row lock")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_mysql")  # row locks; SQLite serialises writers
@pytest.mark.parametrize(("method", "payload"), [("patch", {"text": "too late"}), ("delete", None)])
def test_a_message_deleted_while_a_write_waits_for_it_is_a_404(author, method, payload):
    """Two clients race: one deletes the message while the other's edit or delete is under way.
    The loser answers 404, as if it had come second, never a 500 or a 204 for nothing."""
    message = message_create(author=author, text="racing")

    @in_own_connection
    def write():
        return getattr(client_for(author), method)(detail(message), payload, format="json")

    with ThreadPoolExecutor(max_workers=1) as pool, transaction.atomic():
        Message.objects.select_for_update().get(pk=message.pk)  # the deleting client holds the row
        answer = pool.submit(write)
        wait_for_a_lock_wait()
        Message.objects.filter(pk=message.pk).delete()
    response = answer.result(timeout=60)
    assert response.status_code == 404, response.content
    assert response.json() == {"code": "not_found", "message": "No message has this id."}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_mysql")
def test_concurrent_edits_of_one_message_all_succeed_without_deadlock(author):
    message = message_create(author=author, text="start")

    @in_own_connection
    def edit(text: str):
        return client_for(author).patch(detail(message), {"text": text}, format="json")

    texts = [f"edit {n}" for n in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(edit, texts))
    assert [response.status_code for response in responses] == [200] * len(texts)
    assert sorted(response.json()["text"] for response in responses) == sorted(texts)
    message.refresh_from_db()
    assert message.text in texts


def test_session_writes_need_the_csrf_token(author, message):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(author)
    response = client.post(MESSAGES, {"text": "no token"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["message"]
    page = client.get("/accounts/login/")  # any page with a form sets the CSRF cookie
    token = page.cookies["csrftoken"].value
    response = client.post(MESSAGES, {"text": "with token"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


def test_token_clients_need_no_csrf_token(author):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    _, key = auth_token_create(user=author)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post(MESSAGES, {"text": "by token"}).status_code == 201


# Lists: pagination, filtering, ordering

def make_messages(author, count: int, *, start=None, status=Message.Status.PENDING) -> list[Message]:
    """Rows with distinct, increasing created_at (auto_now_add is overwritten by a second update)."""
    start = start or timezone.now() - timedelta(days=1)
    messages = Message.objects.bulk_create(
        Message(author=author, text=f"message {index}", status=status) for index in range(count)
    )
    for index, message in enumerate(messages):
        message.created_at = start + timedelta(seconds=index)
    Message.objects.bulk_update(messages, ["created_at"], batch_size=500)
    return list(Message.objects.order_by("created_at", "id"))


def walk(client, url: str) -> list[dict]:
    """Follow next links to the end; return every page body."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        pages.append(response.json())
        url = pages[-1]["next"]
    return pages


def test_pages_of_20_newest_first_with_next_and_previous_links(anonymous, author):
    messages = make_messages(author, 45)
    pages = walk(anonymous, MESSAGES)
    assert [len(page["results"]) for page in pages] == [20, 20, 5]
    ids = [item["id"] for page in pages for item in page["results"]]
    assert ids == [message.pk for message in reversed(messages)]
    assert pages[0]["previous"] is None
    assert pages[-1]["next"] is None
    assert pages[1]["next"].startswith("http://testserver/api/v1/messages/?cursor=")
    back = anonymous.get(pages[2]["previous"]).json()
    assert back["results"] == pages[1]["results"]


def test_page_size_is_chosen_by_the_client_and_capped(anonymous, author):
    make_messages(author, 120)
    assert len(anonymous.get(MESSAGES, {"page_size": 7}).json()["results"]) == 7
    assert len(anonymous.get(MESSAGES, {"page_size": 100}).json()["results"]) == 100
    for size in (0, 101, "ten"):
        response = anonymous.get(MESSAGES, {"page_size": size})
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["page_size"]


def test_page_size_is_kept_in_the_links(anonymous, author):
    make_messages(author, 10)
    pages = walk(anonymous, f"{MESSAGES}?page_size=4")
    assert [len(page["results"]) for page in pages] == [4, 4, 2]


def test_ordering_on_each_documented_field(anonymous, author):
    messages = make_messages(author, 5)
    oldest_first = [message.pk for message in messages]
    for ordering, expected in (("created_at", oldest_first), ("-created_at", oldest_first[::-1]),
                               ("id", sorted(oldest_first)), ("-id", sorted(oldest_first)[::-1])):
        pages = walk(anonymous, f"{MESSAGES}?ordering={ordering}&page_size=2")
        assert [item["id"] for page in pages for item in page["results"]] == expected, ordering
    response = anonymous.get(MESSAGES, {"ordering": "text"})
    assert response.status_code == 400
    assert response.json()["fields"]["ordering"][0]["code"] == "invalid_choice"


def test_filters(anonymous, author, other):
    start = timezone.now() - timedelta(days=1)
    mine = make_messages(author, 3, start=start)
    message_create(author=other, text="other's")
    Message.objects.filter(pk=mine[0].pk).update(status=Message.Status.FAILED)

    def ids(**params):
        response = anonymous.get(MESSAGES, params)
        assert response.status_code == 200, response.json()
        return sorted(item["id"] for item in response.json()["results"])

    assert ids(author=author.pk) == sorted(message.pk for message in mine)
    assert ids(status="failed") == [mine[0].pk]
    after = (start + timedelta(seconds=1)).isoformat()
    assert ids(created_after=after, author=author.pk) == [mine[1].pk, mine[2].pk]
    assert ids(created_before=after) == [mine[0].pk]
    assert ids(author=2**63 - 1) == []


@pytest.mark.parametrize("params", [
    {"status": ""}, {"author": ""}, {"cursor": ""},
    {"author": "me"}, {"author": 0}, {"author": 2**63}, {"status": "done"},
    {"created_after": "yesterday"}, {"created_before": "9999-12-31T23:59:59-05:00"},
])
def test_invalid_filters_are_reported(anonymous, params):
    response = anonymous.get(MESSAGES, params)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == list(params)


@pytest.mark.parametrize("cursor", ["garbage", "cD1ub3RhZGF0ZQ==", "cD0yMDI2LTAxLTAx", "bz0tMQ=="])
def test_forged_cursors_are_a_400_on_cursor(anonymous, author, cursor):
    make_messages(author, 3)  # p=notadate, p=2026-01-01 (naive), o=-1
    response = anonymous.get(MESSAGES, {"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["fields"]["cursor"][0]["code"] == "invalid_cursor"


def test_a_cursor_from_another_ordering_is_a_400(anonymous, author):
    make_messages(author, 5)
    next_link = anonymous.get(MESSAGES, {"page_size": 2}).json()["next"]
    cursor = next_link.split("cursor=")[1].split("&")[0]
    response = anonymous.get(MESSAGES, {"cursor": cursor, "ordering": "id"})
    assert response.status_code == 400


def count_queries(client, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.json()


def test_listing_a_page_costs_the_same_queries_for_10_or_10000_rows(author, make_user):
    token_client = client_for(author)
    from rest_framework.test import APIClient

    anonymous = APIClient()
    authors = [author, *(make_user(f"writer{index}") for index in range(9))]
    for writer in authors:
        make_messages(writer, 1)
    small = {who: count_queries(client, f"{MESSAGES}?page_size=20")[0]
             for who, client in (("anonymous", anonymous), ("user", token_client))}
    for writer in authors:
        make_messages(writer, 999)
    assert Message.objects.count() == 10_000
    for who, client in (("anonymous", anonymous), ("user", token_client)):
        first, page = count_queries(client, f"{MESSAGES}?page_size=20")
        assert len(page["results"]) == 20
        assert len({item["author"]["id"] for item in page["results"]}) >= 1
        deep, _ = count_queries(client, page["next"])
        assert small[who] == first == deep, who
    assert small["anonymous"] == 2  # the page of messages, then its authors
