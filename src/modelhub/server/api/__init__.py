"""The Hub HTTP API: one router module per concern; ``app.create_app`` includes each module's ``router``.

- ``accounts``: whoami; ``repos``: create / delete / move / settings / info / listing; ``refs``: branches, tags,
  history; ``tree``: listings, paths-info; ``commit``: preupload and NDJSON commits; ``lfs``: the LFS batch API;
  ``resolve``: downloads; ``discussions``: discussions and PRs; ``cards``: README validation; ``misc``: health...
- helpers: ``_http`` (caller, paths, responses), ``errors`` (the one mapping of domain errors to HTTP),
  ``limits``, ``b64``, ``ndjson``, ``paging``, ``upload_policy``, ``middleware``, ``_aio``; ``openapi`` completes the
  OpenAPI document (statuses, bodies and parameters of each operation).

Rule: a handler that touches the database or the disk is a plain ``def`` (run on the thread pool) or hands that
work to ``_http.run``; an ``async def`` handler only reads the request and awaits (``tests/test_layering.py``
checks it).
"""
