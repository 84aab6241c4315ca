"""The Map page: any indicator with a province series of a stored run (an ensemble's median) on
the ten provinces, month by month with a slider."""

from __future__ import annotations

import pandas as pd
import solara

from jangmadang.dashboard.common import (
    Heading,
    Problem,
    load_stored,
    png,
    store,
    stored_choices,
)
from jangmadang.timeline import format_month


def mapped_indicators(results: pd.DataFrame) -> list[str]:
    return sorted(results.loc[results.dimension == "province", "indicator"].unique())


def draw(stored, indicator: str, month: str) -> bytes:
    """The choropleth of ``indicator`` at ``month`` (YYYY-MM), as the CLI's ``plot --map``."""
    from jangmadang.maps import map_title, plot_map, province_values

    values, when = province_values(stored.results, indicator, month)
    title, label = map_title(indicator, when, stored.title)
    return png(lambda path: plot_map(values, path, title, label))


@solara.component
def ProvinceMap(stored_id: str):
    stored, problem = load_stored(store(), stored_id)
    indicators = mapped_indicators(stored.results) if stored is not None else []
    if stored is None:
        Problem(problem)
    elif not indicators:
        Problem(f"{stored_id} has no province series to map")
    else:
        Choropleth(stored, indicators)


@solara.component
def Choropleth(stored, indicators: list[str]):
    stored_id = stored.id
    indicator, set_indicator = solara.use_state(
        "food_insecure_share" if "food_insecure_share" in indicators else indicators[0]
    )
    rows = stored.results[
        (stored.results.dimension == "province") & (stored.results.indicator == indicator)
    ]
    months = [format_month(d) for d in sorted(rows.date.unique())]
    month, set_month = solara.use_state(months[-1])
    if month not in months:
        month = months[-1]
    with solara.Row(style={"align-items": "center"}):
        solara.Select("Indicator", values=indicators, value=indicator, on_value=set_indicator)
        solara.SliderInt(
            "Month",
            value=months.index(month),
            min=0,
            max=len(months) - 1,
            on_value=lambda i: set_month(months[i]),
            thumb_label=False,
        )
        solara.Text(month, classes=["jm-map-month"])
    figure = solara.use_memo(
        lambda: draw(stored, indicator, month), dependencies=[stored_id, indicator, month]
    )
    solara.Image(figure, width="640px", classes=["jm-map"])


@solara.component
def Page():
    solara.Title("Map - jangmadang")
    Heading("Provinces on a map")
    choices = stored_choices(store())
    choice, set_choice = solara.use_state(None)
    if not choices:
        solara.Text("No completed run or ensemble yet: start one on the Run page.")
        return
    label = choice if choice in choices else next(iter(choices))
    solara.Select("Run or ensemble", values=list(choices), value=label, on_value=set_choice)
    ProvinceMap(choices[label]).key(choices[label])
