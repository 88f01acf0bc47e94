"""Clarion's settings, plus a count of every SQL statement (bench/query_count.py).

The bench starts every process it measures with DJANGO_SETTINGS_MODULE=bench.settings; the
system is otherwise configured exactly as `config.settings` configures it.
"""

from django.db.backends.signals import connection_created

from bench.query_count import query_counting_install
from config.settings import *  # noqa: F403

connection_created.connect(query_counting_install, dispatch_uid="bench-query-count")
