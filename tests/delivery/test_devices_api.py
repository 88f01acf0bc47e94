"""`/api/v1/devices` for apps (API key) and for signed-in users (session)."""

import pytest
from rest_framework.test import APIClient

from delivery.models import Device
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada():
    return factories.UserFactory(username="ada")


@pytest.fixture
def session_client(ada):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(ada)
    return client


def test_an_app_registers_a_device_for_a_named_user_and_again_is_a_200(api_client, ada):
    body = {"user": "ada", "token": "tok-1", "platform": "android"}
    first = api_client.post("/api/v1/devices", body, format="json")
    second = api_client.post("/api/v1/devices", body, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert Device.objects.get(token="tok-1").user == ada


def test_a_token_moves_to_the_user_who_registers_it_last(api_client, ada):
    bob = factories.UserFactory(username="bob")
    factories.DeviceFactory(user=bob, token="shared-install", active=False)
    body = {"user": str(ada.pk), "token": "shared-install", "platform": "ios"}
    api_client.post("/api/v1/devices", body, format="json")
    device = Device.objects.get(token="shared-install")
    assert (device.user, device.active) == (ada, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token": "t", "platform": "android"}, "user"),
        ({"user": "nobody", "token": "t", "platform": "android"}, "user"),
        ({"user": "ada", "token": "t", "platform": "blackberry"}, "platform"),
        ({"user": "ada", "platform": "ios"}, "token"),
        ({"user": "ada", "token": "x" * 600, "platform": "ios"}, "token"),
    ],
)
def test_bad_device_input_names_the_field(api_client, ada, body, field):
    response = api_client.post("/api/v1/devices", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_a_signed_in_user_registers_their_own_device_and_cannot_name_another(session_client, ada):
    mine = session_client.post("/api/v1/devices", {"token": "mine", "platform": "web"}, format="json")
    assert mine.status_code == 201
    assert Device.objects.get(token="mine").user == ada
    other = session_client.post("/api/v1/devices", {"user": "bob", "token": "x", "platform": "web"}, format="json")
    assert other.status_code == 400


def test_a_signed_in_user_can_delete_only_their_own_device(session_client, ada):
    factories.DeviceFactory(user=ada, token="mine")
    factories.DeviceFactory(token="theirs")
    assert session_client.delete("/api/v1/devices/theirs").status_code == 404
    assert session_client.delete("/api/v1/devices/mine").status_code == 204
    assert list(Device.objects.values_list("token", flat=True)) == ["theirs"]


def test_an_app_deletes_any_token_and_anonymous_callers_are_refused(api_client, ada):
    factories.DeviceFactory(user=ada, token="tok")
    assert APIClient().delete("/api/v1/devices/tok").status_code == 401
    assert api_client.delete("/api/v1/devices/tok").status_code == 204
    assert api_client.delete("/api/v1/devices/tok").status_code == 404


def test_session_registration_needs_the_csrf_token(ada):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(ada)
    assert client.post("/api/v1/devices", {"token": "t", "platform": "web"}, format="json").status_code == 403
