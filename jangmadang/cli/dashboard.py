"""``jangmadang dashboard``: the Solara app of :mod:`jangmadang.dashboard` on a local address."""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path
from typing import Annotated

import typer

from jangmadang.cli.common import InputError, Out, app, check_out, console, reported_errors


@app.command()
def dashboard(
    out: Out = Path("results"),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (other machines reach it only if you say so)."),
    ] = "127.0.0.1",
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Only browse stored results: run nothing.")
    ] = False,
) -> None:
    """Open the model in a browser: run scenarios, browse and compare results, map the
    provinces and read the evidence, on the results of --out."""
    with reported_errors():
        if read_only:
            if not out.is_dir():
                raise InputError(f"--out {str(out)!r}: no such folder to browse")
        else:
            check_out(out)
        _check_port(host, port)
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"  # read when Solara is imported
    from jangmadang.dashboard import configure, jobs, without_telemetry

    without_telemetry()
    configure(out, read_only=read_only, workdir=Path.cwd())
    os.environ["SOLARA_APP"] = "jangmadang.dashboard.app"
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"Dashboard at [bold]http://{shown}:{port}/[/] on the results in {out.resolve()}"
        + (" (read-only)" if read_only else "")
        + "; Ctrl+C stops it",
        soft_wrap=True,
    )
    # Solara warns on every first page that a local http address cannot embed its cookie in
    # another site's frame: true, and of no concern here.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    config = uvicorn.Config(
        "solara.server.starlette:app",
        host=host,
        port=port,
        log_level="warning",
        loop="asyncio",
        timeout_graceful_shutdown=5,  # Ctrl+C stops it even while a page is open
    )
    try:
        uvicorn.Server(config).run()
    finally:
        jobs.shutdown()


def _check_port(host: str, port: int) -> None:
    """A port taken or an address not of this machine stops here in one line, not in a
    traceback from the server."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InputError(
            f"--host {host!r}: not an address of this machine ({exc.strerror})"
        ) from None
    with socket.socket(info[0], socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(info[4])
        except OSError as exc:
            raise InputError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc})"
            ) from None
