from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/token/", views.TokenApi.as_view(), name="token"),
    path("auth/me/", views.MeApi.as_view(), name="me"),
]
