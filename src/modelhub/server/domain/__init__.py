"""The hub's rules, without HTTP: accounts and permissions, repos, commits, refs (``hub``), file trees, object
ownership, discussions and PRs, and the read models (``views``) that the API and the web pages share.

May import ``storage`` and ``caches``; never ``api``, ``web`` or FastAPI/Starlette. Refusals are the exceptions of
``errors`` (mapped to HTTP answers in ``api/errors.py``)."""
