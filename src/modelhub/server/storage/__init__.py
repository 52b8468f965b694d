"""Where the hub keeps things: the metadata database (``db``: SQLAlchemy schema and engine) and the blob store
(``blobs``: content-addressed file contents). Nothing here knows about HTTP or about the Hub's rules."""
