"""Real Kafka and Elasticsearch for machines without Docker.

The engines are fetched with Maven from the coordinates in ``engines/pom.xml`` into a cache
outside git and run on 127.0.0.1. ``python -m engines start|stop|status|fetch`` drives them;
tests use :func:`engines.manager.ensure_running`.
"""
