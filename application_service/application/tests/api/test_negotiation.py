"""application_service.api.negotiation: DRF's answer, sooner, for no Accept header and */*."""

from __future__ import annotations

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from application_service.api.negotiation import ContentNegotiation

RENDERERS = [JSONRenderer(), BrowsableAPIRenderer()]


def request(path: str = "/", **headers) -> Request:
    return Request(APIRequestFactory().get(path, **headers))


def chosen(negotiation, req: Request, renderers=RENDERERS, suffix=None):
    try:
        renderer, media_type = negotiation.select_renderer(req, renderers, suffix)
    except Exception as exc:  # DRF's NotAcceptable: compare the kind of refusal
        return type(exc).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("headers", [
    {}, {"HTTP_ACCEPT": "*/*"}, {"HTTP_ACCEPT": "application/json"}, {"HTTP_ACCEPT": "text/html"},
    {"HTTP_ACCEPT": "text/html, */*;q=0.1"}, {"HTTP_ACCEPT": "application/json; indent=2"},
    {"HTTP_ACCEPT": "image/png"}, {"HTTP_ACCEPT": ""},
])
def test_the_answer_is_drfs_for_every_accept_header(headers):
    assert chosen(ContentNegotiation(), request(**headers)) == chosen(DefaultContentNegotiation(),
                                                                     request(**headers))


def test_the_shortcut_takes_the_first_renderer_whichever_it_is():
    renderers = [BrowsableAPIRenderer(), JSONRenderer()]
    assert chosen(ContentNegotiation(), request(), renderers) == ("BrowsableAPIRenderer", "text/html")
    assert chosen(DefaultContentNegotiation(), request(), renderers) == ("BrowsableAPIRenderer",
                                                                         "text/html")


def test_a_format_suffix_or_parameter_is_negotiated_by_drf(settings):
    assert chosen(ContentNegotiation(), request(), suffix="api") == ("BrowsableAPIRenderer", "text/html")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "URL_FORMAT_OVERRIDE": "format"}
    negotiation = ContentNegotiation()
    assert chosen(negotiation, request("/?format=api")) == ("BrowsableAPIRenderer", "text/html")
    assert chosen(negotiation, request("/?format=api")) == chosen(DefaultContentNegotiation(),
                                                                 request("/?format=api"))


@pytest.mark.django_db
def test_the_api_answers_json_and_refuses_what_it_cannot_give(client):
    assert client.get("/api/v1/counter/").json()["name"] == "hello"
    refused = client.get("/api/v1/counter/", HTTP_ACCEPT="image/png")
    assert (refused.status_code, refused.json()["code"]) == (406, "not_acceptable")
