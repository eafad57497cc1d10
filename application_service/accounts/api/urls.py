from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/token/", views.TokenApi.as_view(), name="token"),
    path("auth/tokens/", views.TokenCollectionApi.as_view(), name="tokens"),
    path("auth/tokens/<str:token_key>/", views.TokenDetailApi.as_view(), name="token-detail"),
    path("auth/me/", views.MeApi.as_view(), name="me"),
]
