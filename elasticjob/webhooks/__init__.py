"""Webhook deliveries: signing (``signing``), the retry schedule (``backoff``), and the leader's worker that
sends what the history holds as due (``worker``). The configuration and the payload are ``model.webhook``'s;
the deliveries are kept in the history store (``history.deliveries``)."""
