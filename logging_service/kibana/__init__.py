"""Kibana for the log indices: saved objects shipped as NDJSON, and their import (`manage.py kibana_setup`).

`saved_objects.ndjson` is the source of truth, in Kibana's own export format: change the objects in Kibana,
export them (Stack Management → Saved objects → Export), and replace the file; the tests check that every
field it names exists in the index template.
"""
