"""A prefork worker imports its configured providers' SDKs before it forks (delivery/chains.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from celery.signals import worker_init

from config.celery import provider_modules_preload

IMPORTED = (
    "import json, sys, django; django.setup();"
    "from delivery.chains import provider_modules_import; provider_modules_import();"
    "print(json.dumps([m in sys.modules for m in ('firebase_admin', 'twilio.rest', 'boto3')]))"
)


@pytest.mark.parametrize(
    ("providers", "expected"),
    [
        (
            {"CLARION_SMS_PROVIDERS": "twilio", "CLARION_PUSH_PROVIDERS": "fcm", "CLARION_EMAIL_PROVIDERS": "smtp"},
            [True, True, False],
        ),
        (
            {"CLARION_SMS_PROVIDERS": "sns", "CLARION_PUSH_PROVIDERS": "outbox", "CLARION_EMAIL_PROVIDERS": "ses"},
            [False, False, True],
        ),
        (
            {
                "CLARION_SMS_PROVIDERS": "outbox",
                "CLARION_PUSH_PROVIDERS": "outbox",
                "CLARION_EMAIL_PROVIDERS": "outbox",
            },
            [False, False, False],
        ),
    ],
)
def test_the_configured_providers_sdks_and_only_theirs_are_imported(providers, expected):
    env = {**os.environ, **providers, "DJANGO_SETTINGS_MODULE": "config.settings"}

    output = subprocess.run([sys.executable, "-c", IMPORTED], env=env, capture_output=True, check=True, timeout=60)

    assert json.loads(output.stdout.splitlines()[-1]) == expected


def test_the_import_runs_when_a_worker_starts_before_it_forks():
    assert provider_modules_preload in [receiver() for _, receiver in worker_init.receivers]
