from concurrent.futures import ThreadPoolExecutor

import pytest
from django.urls import reverse

from application.models import Counter
from application.selectors import counter_value
from application.services import counter_increment
from ops.testing import in_own_connection

pytestmark = pytest.mark.django_db


def test_increment_returns_consecutive_values_and_persists():
    start = counter_value()
    assert [counter_increment() for _ in range(3)] == [start + 1, start + 2, start + 3]
    assert Counter.objects.get(name="hello").value == start + 3
    assert counter_increment(name="other") == 1  # a new counter starts at one
    assert counter_value() == start + 3


def test_hello_page_counts_up_by_one(client):
    first = client.get(reverse("application:hello"))
    second = client.get("/")
    assert first.status_code == second.status_code == 200
    assert "Hello, World" in first.text
    assert first.context["count"] + 1 == second.context["count"]
    assert f'<p id="count">{second.context["count"]}</p>' in second.text


def test_hello_page_refuses_writes(client):
    start = counter_value()
    assert client.post("/").status_code == 405
    assert counter_value() == start


def test_admin_lists_the_counter(admin_client):
    value = counter_increment()
    response = admin_client.get("/admin/application/counter/")
    assert response.status_code == 200
    assert f"hello: {value}" in response.text


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_mysql")  # row locks under concurrency; SQLite serialises writers
def test_concurrent_increments_lose_nothing():
    @in_own_connection
    def work(_):
        return counter_increment()

    with ThreadPoolExecutor(max_workers=8) as pool:  # first uses race to create the row, too
        values = list(pool.map(work, range(200)))
    assert sorted(values) == list(range(1, 201))


def test_admin_lists_and_searches_messages(admin_client, admin_user):
    from application.models import Message

    Message.objects.create(author=admin_user, text="seen in the admin")
    Message.objects.create(author=admin_user, text="another one")
    response = admin_client.get("/admin/application/message/", {"q": "seen in"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list.values_list("text", flat=True)) == ["seen in the admin"]
