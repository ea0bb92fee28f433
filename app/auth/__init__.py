"""Who may use the console, and how each request says who it is (README, "Security").

- ``identity``: ``Identity`` (a user or a token, and its ``Role``), and the hashing of random secrets.
- ``access``: ``need(role)``, the FastAPI dependency each ``/api`` route names, and ``identify``, which reads a
  request's ``Authorization: Bearer`` token or session cookie.
- ``gate``: the ASGI middleware in front of the pages (no session: a redirect to ``/signin``) and of every
  state-changing request signed in by cookie (its ``Origin`` must be the console's own).
- ``throttle``: the slow-down of repeated failed sign-ins, per name and per address.
- ``signin_routes``: ``GET /signin/ticket`` (a single-use ticket becomes a session cookie).
- ``cli``: ``python -m app user ...`` and ``python -m app token ...``.

Users, sessions, tickets and tokens are kept by ``app.services.users``, ``sign_in`` and ``tokens``; the pages'
role checks are ``app.ui.access``.
"""
