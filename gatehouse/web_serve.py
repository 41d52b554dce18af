"""An office page under waitress (`hub web`, `district web`): the settings both keep.

Half-sent requests (slowloris) once filled waitress's 100 connections and kept the
office out (docs/security.md S4): idle connections now go after 30 s and 1,000 may
wait. A LAN with hostile machines still wants a proxy with per-client limits.
"""
from __future__ import annotations

import waitress


def serve(app, bind: str, port: int, threads: int, ident: str,
          trusted_proxy: str | None = None) -> None:
    """Serve `app` until stopped."""
    waitress.serve(app, host=bind, port=port, threads=threads, ident=ident,
                   channel_timeout=30, connection_limit=1000, **proxy_options(trusted_proxy))


def proxy_options(trusted_proxy: str | None) -> dict:
    """waitress settings for a reverse proxy in front (none: believe no forwarded header)."""
    if not trusted_proxy:
        return {}
    return {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-host",
                                      "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True}
