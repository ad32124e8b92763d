"""Who may do what: API users and their roles (``authfile``, ``roles``), their secrets' hashes
(``secrets``) and checking a request's credentials (``authenticator``)."""
