"""Resilient SMS through real worker processes: Twilio (a local stub speaking its wire format)
first, SNS (moto) second, circuit breakers and rate limits shared through Redis.

Each test counts what arrived at the providers, per phone number: every notification must
arrive exactly once, at one provider or the other.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from delivery.models import Delivery, DeliveryAttempt, ProviderHealth
from tests import factories
from tests.support.moto_sns import MotoSnsServer, sns_env
from tests.support.processes import ManagedProcess, wait_for
from tests.support.twilio_stub import TwilioStub

pytestmark = pytest.mark.e2e

PROBES = 2
# Breakers that act within a test: a two-second window, five results to judge, one second open.
BREAKER_ENV = {
    "CLARION_BREAKER_WINDOW_SECONDS": "2",
    "CLARION_BREAKER_MIN_VOLUME": "5",
    "CLARION_BREAKER_COOLDOWN_SECONDS": "1",
    "CLARION_BREAKER_PROBES": str(PROBES),
}
TRANSITION = re.compile(r"circuit breaker of twilio: (\w+) → (\w+)")


@pytest.fixture
def twilio() -> Iterator[TwilioStub]:
    stub = TwilioStub().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def moto_sns_module() -> Iterator[MotoSnsServer]:
    server = MotoSnsServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto_sns(moto_sns_module) -> MotoSnsServer:
    moto_sns_module.reset()
    return moto_sns_module


@pytest.fixture
def sms_category(transactional_db):
    return factories.category_with_templates(slug="login_code", channels=("sms",))


def sms_chain_env(twilio: TwilioStub, sns: MotoSnsServer) -> dict[str, str]:
    return {**twilio.env(), **sns_env(sns.url), "CLARION_SMS_PROVIDERS": "twilio,sns", **BREAKER_ENV}


def post_sms(api_client, category, count: int, first: int = 0) -> tuple[list[int], list[str]]:
    """Notify `count` new users, each with a phone number of their own; returns the SMS
    deliveries' ids and the numbers."""
    phones = []
    for n in range(first, first + count):
        user = factories.UserFactory(username=f"sms{n}")
        phones.append(factories.NotificationSettingsFactory(user=user, phone_number=f"+1555010{n:04d}").phone_number)
    response = api_client.post(
        "/api/v1/notifications",
        {"category": category.slug, "recipients": [f"sms{n}" for n in range(first, first + count)], "data": {}},
        format="json",
    )
    assert response.status_code == 202, response.content
    notification_ids = [n["id"] for n in response.json()["notifications"]]
    delivery_ids = wait_for(
        lambda: (
            list(Delivery.objects.filter(notification_id__in=notification_ids).values_list("pk", flat=True))
            if Delivery.objects.filter(notification_id__in=notification_ids).count() == count
            else None
        ),
        timeout=30,
        message=f"{count} deliveries to be planned",
    )
    return delivery_ids, phones


def all_sent(delivery_ids: list[int], timeout: float = 40) -> None:
    deliveries = Delivery.objects.filter(pk__in=delivery_ids)
    wait_for(
        lambda: deliveries.filter(status=Delivery.Status.SENT).count() == len(delivery_ids),
        timeout=timeout,
        message=f"{len(delivery_ids)} SMS to be sent",
    )


def arrivals(twilio: TwilioStub, sns: MotoSnsServer) -> Counter[str]:
    """How often each number arrived, at either provider."""
    return Counter([sms.to for sms in twilio.messages()] + [sms.phone_number for sms in sns.published_sms()])


def breaker_transitions(*workers: ManagedProcess) -> list[tuple[str, str]]:
    return [transition for worker in workers for transition in TRANSITION.findall(worker.log())]


def test_a_5xx_storm_on_the_primary_ends_with_every_sms_delivered_once(
    processes, api_client, sms_category, twilio, moto_sns
):
    twilio.fail_randomly(0.3, status=500, code=20500, message="Internal Server Error")
    env = sms_chain_env(twilio, moto_sns)
    processes.worker(env=env)
    processes.worker(env=env)

    delivery_ids, phones = post_sms(api_client, sms_category, 30)

    all_sent(delivery_ids)
    assert arrivals(twilio, moto_sns) == dict.fromkeys(phones, 1)
    failed_at_twilio = twilio.request_count - len(twilio.messages())
    assert failed_at_twilio > 0, "the storm did not happen"
    # Every 5xx is in the delivery log as a retryable attempt, and every SMS has one delivered attempt.
    attempts = DeliveryAttempt.objects.filter(delivery_id__in=delivery_ids)
    assert attempts.filter(provider="twilio", outcome="retryable", error_code="20500").count() == failed_at_twilio
    assert attempts.filter(outcome="delivered").count() == len(delivery_ids)
    # Each delivery names the provider its SMS arrived at.
    twilio_numbers = {sms.to for sms in twilio.messages()}
    for delivery in Delivery.objects.filter(pk__in=delivery_ids):
        assert delivery.provider == ("twilio" if delivery.content["to"] in twilio_numbers else "sns")


def test_primary_down_opens_the_breaker_the_secondary_delivers_and_probes_close_it_after_recovery(
    processes, api_client, sms_category, twilio, moto_sns
):
    twilio.fail_randomly(1.0)
    env = sms_chain_env(twilio, moto_sns)
    workers = [processes.worker(env=env), processes.worker(env=env)]

    outage_ids, outage_phones = post_sms(api_client, sms_category, 20)

    all_sent(outage_ids)
    assert twilio.messages() == []
    assert twilio.request_count >= 5, "twilio was never tried"
    assert set(Delivery.objects.filter(pk__in=outage_ids).values_list("provider", flat=True)) == {"sns"}
    assert arrivals(twilio, moto_sns) == dict.fromkeys(outage_phones, 1)
    assert ("closed", "open") in breaker_transitions(*workers)
    # Once open, sends go straight to SNS and say why.
    passed_over = DeliveryAttempt.objects.filter(delivery_id__in=outage_ids, provider="sns", note__contains="twilio")
    assert passed_over.exists()
    assert ProviderHealth.objects.get(provider="twilio").state != ProviderHealth.State.CLOSED

    twilio.fail_randomly(0)
    recovery_ids: list[int] = []
    recovery_phones: list[str] = []

    def send_one_more_until_closed() -> bool:
        """Traffic keeps coming: after the cooldown some of it probes Twilio."""
        if ProviderHealth.objects.get(provider="twilio").state == ProviderHealth.State.CLOSED:
            return True
        ids, phones = post_sms(api_client, sms_category, 1, first=100 + len(recovery_ids))
        recovery_ids.extend(ids)
        recovery_phones.extend(phones)
        return False

    wait_for(send_one_more_until_closed, timeout=30, interval=0.2, message="the twilio breaker to close")

    all_sent(recovery_ids)
    transitions = breaker_transitions(*workers)
    assert ("open", "half_open") in transitions
    assert ("half_open", "closed") in transitions
    # The probes were real sends that Twilio accepted.
    assert len(twilio.messages()) >= PROBES
    assert arrivals(twilio, moto_sns) == dict.fromkeys(outage_phones + recovery_phones, 1)


def test_two_workers_together_never_exceed_the_providers_rate(processes, api_client, sms_category, twilio):
    rate = 10
    # Small chunks, so that every pool process of both workers sends at once.
    env = {**twilio.env(), "CLARION_RATE_LIMITS": f"twilio={rate}", "CLARION_CHUNK_SIZE": "4"}
    workers = [processes.worker(env=env), processes.worker(env=env)]

    delivery_ids, phones = post_sms(api_client, sms_category, 40)

    all_sent(delivery_ids)
    assert Counter(sms.to for sms in twilio.messages()) == dict.fromkeys(phones, 1)
    per_second = Counter(int(arrival) for arrival in twilio.arrivals)
    assert max(per_second.values()) <= rate, per_second
    assert all("delivery_send_task" in worker.log() for worker in workers), "one worker sent everything"
