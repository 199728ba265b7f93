"""The lean front: a WSGI callable before Django (config.wsgi) that answers `POST /api/v1/messages` and
`POST /api/v1/messages/batch` itself, with the views' own pieces, and hands everything else to Django.

router.lean.intake reads the environ, router.lean.answers builds the WSGI answers and their headers,
router.lean.front is the callable.
"""
