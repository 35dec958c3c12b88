"""``multifetch serve``: the local target server, in the foreground."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port (0: any free port).")
def serve(host: str, port: int) -> None:
    """Run the local target server: routes for delays, statuses, redirects, compression, retries.

    \b
    Examples:
      multifetch serve --port 8000 &
      multifetch fetch http://127.0.0.1:8000/delay/0.5 http://127.0.0.1:8000/status/503
    Routes: /bytes/N  /item/KEY  /delay/S  /status/CODE  /redirect/N  /redirect-loop
            /gzip  /deflate  /br  /retry-after/S?times=K  /fail/K  /headers  /echo  /large/N
    """
    import asyncio

    from ..testing import TargetServer

    server = TargetServer(host, port, record=False)
    try:
        asyncio.run(server.serve(lambda url: click.echo(f"serving on {url} (Ctrl-C to stop)", err=True)))
    except KeyboardInterrupt:
        pass
