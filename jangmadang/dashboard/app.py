"""The dashboard's pages and their layout: what ``jangmadang dashboard`` serves
(``SOLARA_APP=jangmadang.dashboard.app``)."""

from __future__ import annotations

import solara

from jangmadang.dashboard import compare, evidence_page, map_page, results, run
from jangmadang.dashboard.config import settings


@solara.component
def Layout(children=[]):  # noqa: B006 (Solara's signature for a layout)
    """The app bar with one tab a page (named by the routes' labels) over the page."""
    config = settings()
    current, pages = solara.use_route()
    router = solara.use_router()
    index = pages.index(current) if current in pages else 0
    shown = (
        config.out.relative_to(config.workdir)
        if config.out.is_relative_to(config.workdir)
        else config.out
    )
    folder = f"results in {shown}/" + (", read-only" if config.read_only else "")

    def go(i: int) -> None:
        router.push("/" + pages[i].path.strip("/"))

    bar = {"background": "#1565c0", "align-items": "center", "padding": "0 1em"}
    with solara.Column(gap="0px") as main:
        with solara.Row(style=bar):
            solara.Text("jangmadang", style={"color": "white", "font-size": "1.3em"})
            solara.Text(
                folder,
                style={"color": "#dde", "font-size": "0.8em", "flex": "1", "white-space": "nowrap"},
            )
            with solara.lab.Tabs(value=index, on_value=go, background_color="#1565c0", dark=True):
                for page in pages:
                    solara.lab.Tab(page.label)
        solara.Column(children=children, style={"padding": "0.5em 1.5em", "max-width": "1300px"})
    return main


routes = [
    solara.Route(path="/", component=run.Page, label="Run", layout=Layout),
    solara.Route(path="results", component=results.Page, label="Results"),
    solara.Route(path="compare", component=compare.Page, label="Compare"),
    solara.Route(path="map", component=map_page.Page, label="Map"),
    solara.Route(path="evidence", component=evidence_page.Page, label="Evidence"),
]
