from django.urls import path

from delivery.api import DeviceDetailApi, DeviceListApi

urlpatterns = [
    path("devices", DeviceListApi.as_view(), name="device-list"),
    path("devices/<path:token>", DeviceDetailApi.as_view(), name="device-detail"),
]
