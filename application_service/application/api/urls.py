from django.urls import path

from application.api import views

urlpatterns = [
    path("messages/", views.MessageCollectionApi.as_view(), name="messages"),
    path("messages/<int:message_id>/", views.MessageDetailApi.as_view(), name="message"),
    path("counter/", views.CounterApi.as_view(), name="counter"),
    path("counter/increment/", views.CounterIncrementApi.as_view(), name="counter-increment"),
]
