"""Benchmarks of the whole pipeline on the real engines (`python manage.py bench`), never run as tests."""
