from django.urls import path

from preferences.api import UserPreferencesApi

urlpatterns = [
    path("users/<int:user_id>/preferences", UserPreferencesApi.as_view(), name="user-preferences"),
]
