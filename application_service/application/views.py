from django.http import HttpRequest, HttpResponse
from django.template.loader import get_template
from django.views.decorators.http import require_safe

from application.services import counter_increment


@require_safe
def hello(request: HttpRequest) -> HttpResponse:
    """Say hello and show how many times the page has been served."""
    # The page needs no request context (user, messages, CSRF), so none is built for it.
    return HttpResponse(get_template("application/hello.html").render({"count": counter_increment()}))
