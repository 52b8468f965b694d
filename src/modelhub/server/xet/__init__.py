"""The room for the Xet storage protocol (CAS tokens, xorbs, shards, reconstruction; see the Xet issue).

Empty for now: the hub answers the ``xet-read-token`` / ``xet-write-token`` routes with 404 (``api/tree.py``), so
the official client keeps to LFS or regular uploads. Code here may import ``domain`` and ``storage``, never
``api`` or ``web``; its routes go in ``xet/routes.py`` and are included by ``app.create_app``."""
