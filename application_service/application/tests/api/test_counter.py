import pytest

from application.selectors import counter_value
from ops.testing import client_for

pytestmark = pytest.mark.django_db


def test_anyone_reads_the_counter_without_raising_it(anonymous):
    first = anonymous.get("/api/v1/counter/")
    assert first.status_code == 200
    assert first.json() == {"name": "hello", "value": counter_value()}
    assert anonymous.get("/api/v1/counter/").json() == first.json()


def test_signed_in_users_raise_it_and_see_the_new_value(make_user, client):
    start = counter_value()
    api = client_for(make_user("alice"))
    assert api.post("/api/v1/counter/increment/").json() == {"name": "hello", "value": start + 1}
    client.get("/")  # the hello page and the API share the counter
    assert api.post("/api/v1/counter/increment/").json()["value"] == start + 3
    assert api.get("/api/v1/counter/").json()["value"] == start + 3


def test_anonymous_clients_may_not_raise_it(anonymous):
    start = counter_value()
    response = anonymous.post("/api/v1/counter/increment/")
    assert response.status_code == 401
    assert counter_value() == start
