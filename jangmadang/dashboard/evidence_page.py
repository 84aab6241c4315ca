"""The Evidence page: the whole ledger, searchable, each entry with its source and what the
source says, so every number in the model can be checked against where it comes from."""

from __future__ import annotations

import pandas as pd
import solara

from jangmadang import evidence
from jangmadang.dashboard.common import Heading, Note

PAGE = 25  # entries a page


def ledger() -> pd.DataFrame:
    """Every entry: key, kind, source (spelled out), what it says and the plausible range."""
    rows = [
        {
            "key": e.key,
            "kind": e.kind,
            "source": f"{e.source_description} ({e.source})" if e.source_description else e.source,
            "says": e.says,
            "range": f"{e.range[0]:g} to {e.range[1]:g}" if e.range else "",
        }
        for e in evidence.load().values()
    ]
    return pd.DataFrame(rows)


def search(frame: pd.DataFrame, text: str, kind: str) -> pd.DataFrame:
    """Entries whose any column holds every word of ``text`` (case aside), of ``kind``."""
    if kind != "all":
        frame = frame[frame.kind == kind]
    haystack = frame.apply(lambda row: " ".join(row).lower(), axis=1)
    keep = pd.Series(True, index=frame.index)
    for word in text.lower().split():
        keep &= haystack.str.contains(word, regex=False)
    return frame[keep]


@solara.component
def Page():
    solara.Title("Evidence - jangmadang")
    text, set_text = solara.use_state("")
    kind, set_kind = solara.use_state("all")
    page, set_page = solara.use_state(0)
    frame = solara.use_memo(ledger, dependencies=[])
    found = search(frame, text, kind)
    if page * PAGE >= max(len(found), 1):
        page = 0  # a narrower search: back to its first page
    Heading("Evidence ledger")
    Note(
        "Every parameter, rule and dated event of the model, and every data file, has an entry: "
        "what kind of evidence it is (one of five field reports, an outside statistic, or a "
        "modelling assumption), its source, and what the source says."
    )
    with solara.Row():
        solara.InputText(
            "Search (words in the key, source or text)",
            value=text,
            on_value=set_text,
            continuous_update=True,
        )
        solara.ToggleButtonsSingle(value=kind, values=["all", *evidence.KINDS], on_value=set_kind)
    shown = found.iloc[page * PAGE : (page + 1) * PAGE]
    with solara.Row(style={"align-items": "center"}):
        solara.Text(f"{len(found)} of {len(frame)} entries", classes=["jm-evidence-count"])
        if len(found) > PAGE:
            solara.Button(
                "Previous", text=True, disabled=page == 0, on_click=lambda: set_page(page - 1)
            )
            solara.Text(f"{page * PAGE + 1} to {page * PAGE + len(shown)}")
            solara.Button(
                "Next",
                text=True,
                disabled=(page + 1) * PAGE >= len(found),
                on_click=lambda: set_page(page + 1),
            )
    for row in shown.itertuples():
        EntryView(row)


@solara.component
def EntryView(row):
    """One entry: its key and kind, its source spelled out, what the source says, the range."""
    with solara.Column(
        gap="0px", style={"border-bottom": "1px solid #e0e0e0", "padding": "0.4em 0"}
    ):
        with solara.Row(gap="12px"):
            solara.Text(row.key, style={"font-weight": "bold"}, classes=["jm-evidence-key"])
            solara.Text(row.kind, style={"color": "#555"})
            if row.range:
                solara.Text(f"plausible range {row.range}", style={"color": "#555"})
        solara.Text(row.source, style={"font-size": "0.9em", "color": "#1565c0"})
        solara.Text(row.says, style={"font-size": "0.9em"})
