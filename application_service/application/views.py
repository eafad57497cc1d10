from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from application.services import counter_increment


@require_safe
def hello(request: HttpRequest) -> HttpResponse:
    """Say hello and show how many times the page has been served."""
    return render(request, "application/hello.html", {"count": counter_increment()})
