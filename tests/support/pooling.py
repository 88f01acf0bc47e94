"""What the tests of Django's connection pool share: it exists on PostgreSQL only."""

import pytest
from django.db import connection

only_pooled = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="Django pools connections on PostgreSQL only"
)
