"""Server-rendered pages for browsers (the web-pages issue builds them here). May import ``domain`` and ``storage``;
the JSON API (``api/``) and the pages share the read models of ``domain/views.py``."""
