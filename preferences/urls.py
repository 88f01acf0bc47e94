from django.urls import path

from preferences.pages import device_remove_page, preferences_page

urlpatterns = [
    path("", preferences_page, name="preferences"),
    path("devices/<int:device_id>/remove", device_remove_page, name="device-remove"),
]
