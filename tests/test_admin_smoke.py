"""Every page and action of every registered admin model, in every app, works for a superuser:
the index and app pages, each changelist with each of its filter choices and a search, the
add, change, history and delete pages, and each action run on a row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from delivery.models import Delivery, OutboxMessage, ProviderHealth
from digests.models import DigestItem, DigestTemplate
from notifications.models import InboxItem, TemplateVersion
from tests import factories

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
IDS = [model._meta.label for model, _ in REGISTERED]
SEARCHABLE = [(model, model_admin) for model, model_admin in REGISTERED if model_admin.search_fields]
APP_LABELS = sorted({model._meta.app_label for model, _ in REGISTERED})


@pytest.fixture
def superuser(db):
    return factories.UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def as_superuser(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return request


@pytest.fixture
def one_of_everything(db) -> None:
    """At least one row of every model the admin shows (a new model needs one here)."""
    category = factories.category_with_templates(slug="comment_reply", channels=("email", "in_app"))
    template = category.templates.first()
    TemplateVersion.objects.create(template=template, number=1, subject=template.subject, body=template.body)
    user = factories.UserFactory(username="ada")
    factories.NotificationSettingsFactory(user=user)
    factories.PreferenceFactory(user=user, category=category)
    factories.DeviceFactory(user=user)
    notification = factories.NotificationFactory(category=category, recipient=user)
    delivery = factories.DeliveryFactory(notification=notification, status=Delivery.Status.FAILED)
    factories.DeliveryAttemptFactory(delivery=delivery, provider_message_id="<m@clarion>")
    InboxItem.objects.create(user=user, notification=notification, category=category, title="Hello")
    DigestItem.objects.create(
        user=user, category=category, channel="email", notification=notification, due_at=timezone.now()
    )
    DigestTemplate.objects.create(category=category, channel="email", subject="{{ count }} new", body="{{ count }}")
    OutboxMessage.objects.create(channel="email", reference=str(delivery.pk), to="ada@example.com", subject="Hi")
    ProviderHealth.objects.create(
        provider="twilio", state=ProviderHealth.State.OPEN, weight=0, failures=20, changed_at=timezone.now()
    )
    Group.objects.create(name="operators")
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    CrontabSchedule.objects.create(minute="0", hour="3")
    SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35)
    ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1))
    PeriodicTask.objects.create(name="sweep", task="delivery.tasks.pipeline_sweep_task", interval=interval)


def url(model, view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def first_row(model):
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"one_of_everything makes no {model._meta.label}; add one"
    return obj


def test_admin_index_and_every_app_page_render(client):
    assert client.get(reverse("admin:index")).status_code == 200
    for app_label in APP_LABELS:
        response = client.get(reverse("admin:app_list", args=[app_label]))
        assert response.status_code == 200, app_label


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=IDS)
def test_changelist_renders_with_every_filter_choice_and_a_search(client, one_of_everything, model, model_admin):
    response = client.get(url(model, "changelist"))
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert changelist.result_count >= 1

    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            filtered = client.get(url(model, "changelist") + choice["query_string"])
            assert filtered.status_code == 200, (spec.title, choice["query_string"])


@pytest.mark.parametrize(("model", "model_admin"), SEARCHABLE, ids=[model._meta.label for model, _ in SEARCHABLE])
@pytest.mark.parametrize("query", ["ada", "1", "not-a-number", "%_'\"\\"])
def test_changelist_search_renders(client, one_of_everything, model, model_admin, query):
    assert client.get(url(model, "changelist"), {"q": query}).status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=IDS)
def test_add_page_renders_where_adding_is_allowed(client, as_superuser, model, model_admin):
    response = client.get(url(model, "add"))

    assert response.status_code == (200 if model_admin.has_add_permission(as_superuser) else 403)


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=IDS)
def test_change_and_history_pages_render(client, one_of_everything, model, model_admin):
    obj = first_row(model)

    change = client.get(url(model, "change", obj.pk))
    history = client.get(url(model, "history", obj.pk))

    assert change.status_code == 200
    assert change.context["original"] == obj
    assert history.status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=IDS)
def test_delete_page_asks_for_confirmation_where_deleting_is_allowed(
    client, one_of_everything, as_superuser, model, model_admin
):
    obj = first_row(model)

    response = client.get(url(model, "delete", obj.pk))

    assert response.status_code == (200 if model_admin.has_delete_permission(as_superuser, obj) else 403)
    assert model._default_manager.filter(pk=obj.pk).exists()


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=IDS)
def test_every_action_runs_on_a_selected_row(client, one_of_everything, as_superuser, model, model_admin):
    obj = first_row(model)

    for action in model_admin.get_actions(as_superuser):
        response = client.post(
            url(model, "changelist"), {"action": action, "_selected_action": [obj.pk], "index": 0}, follow=True
        )

        assert response.status_code == 200, action
        shown = [str(message) for message in response.context["messages"]]
        assert not [text for text in shown if "No action selected" in text or "must be selected" in text], action
        if action == "delete_selected":
            # Without the confirmation step the action only asks (or says what protects the row).
            assert "Are you sure" in response.content.decode() or response.context["title"].startswith("Cannot")
            assert model._default_manager.filter(pk=obj.pk).exists()
