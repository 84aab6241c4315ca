"""Snapshots: the whole state of a simulation between two months, in a portable folder.

A snapshot lets a long run survive a crash (``jangmadang resume``), and lets several scenarios
share a history and then fork (``Sim.fork``). Layout::

    manifest.json      format version, package version, the month reached, every scalar
                       value of the simulation, the ledger and each module (typed, see below)
    scenario.toml      the resolved scenario (as a run folder stores it)
    arrays/*.npy       every NumPy array: persons, households and each module's own arrays
    results.parquet    the indicators recorded so far

No pickle: arrays are ``.npy`` files (``allow_pickle=False``) and every other value is JSON
with a type tag where JSON alone would lose it (tuples, dates, NumPy scalars, sets), so a
snapshot can be read by any tool and cannot run code when loaded. The manifest is written
last, so a folder without one is incomplete and is never loaded.

Random numbers need no state: every module draws from a stream keyed by (seed, module,
calendar month) (``streams.stream``), so a run continued from a snapshot draws exactly what
the uninterrupted run would have drawn, and its results are identical.

A module's state is everything in its ``__dict__`` except the simulation it belongs to and
this month's stream. Values must be arrays, numbers, strings, booleans, None, dates, or
tuples, lists, sets and dicts of these; anything else is refused when saving, naming the
module and attribute, so a new module cannot silently lose state.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import jangmadang
from jangmadang.ledger import Ledger
from jangmadang.modules.population import Geography
from jangmadang.results import COLUMNS
from jangmadang.state import ArrayStruct
from jangmadang.store import scenario_to_toml
from jangmadang.store.files import fsync_dir, temporary_name, write_atomically
from jangmadang.timeline import format_month

if TYPE_CHECKING:
    from jangmadang.sim import Sim

FORMAT_VERSION = 2  # 2: structs record their inherited fields (demography)
MANIFEST = "manifest.json"
NOT_STATE = {"sim", "rng"}  # a module's owner and this month's stream: rebuilt, never saved
SIM_VALUES = ("t", "steps_done", "month", "wall_seconds", "check_money")
LEDGER_VALUES = ("balances", "external", "flows", "_initial_total", "_volume")


class SnapshotError(ValueError):
    """A snapshot that cannot be written or read; the message says why in one line."""


# --------------------------------------------------------------------------------------------
# Writing


def save(sim: Sim, path: str | Path) -> Path:
    """Write ``sim``'s state to the folder ``path`` (replacing a snapshot already there).

    The snapshot is written into a temporary folder beside ``path`` (named as the store names
    its temporaries, so ``doctor`` deletes one left by a killed process) and renamed into place,
    so an interruption leaves either the old snapshot or the new one.
    """
    if not sim.initialized:
        raise SnapshotError("nothing to save: the simulation has not been initialised")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / temporary_name(path.name)
    temporary.mkdir()
    try:
        _write(sim, temporary)
        _replace_folder(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return path


def _write(sim: Sim, folder: Path) -> None:
    arrays = _ArrayWriter(folder / "arrays")
    manifest = {
        "format": FORMAT_VERSION,
        "package_version": jangmadang.__version__,
        "scenario": sim.scenario.name,
        "scenario_hash": sim.scenario.fingerprint(),
        "month_reached": format_month(sim.month) if sim.steps_done else None,
        "sim": {name: _encode(getattr(sim, name), arrays, f"sim.{name}") for name in SIM_VALUES},
        "people": _encode_struct(sim.people, arrays, "people"),
        "households": _encode_struct(sim.households, arrays, "households"),
        "ledger": {
            name: _encode(getattr(sim.ledger, name), arrays, f"ledger.{name}")
            for name in LEDGER_VALUES
        },
        "modules": {
            module.name: {
                key: _encode(value, arrays, f"{module.name}.{key}")
                for key, value in vars(module).items()
                if key not in NOT_STATE
            }
            for module in sim.modules
        },
    }
    (folder / "scenario.toml").write_text(scenario_to_toml(sim.scenario))
    pq.write_table(_recorder_table(sim.recorder), folder / "results.parquet")
    text = json.dumps(manifest, indent=1, allow_nan=True)
    write_atomically(folder / MANIFEST, lambda tmp: tmp.write_text(text))


def _encode_struct(struct: ArrayStruct, arrays: _ArrayWriter, owner: str) -> dict:
    return {
        "n": struct.n,
        "fields": {k: arrays.add(v, f"{owner}.{k}") for k, v in struct.fields.items()},
        "inherited": sorted(struct.inherited),
        "scratch": sorted(struct.scratch),
    }


class _ArrayWriter:
    """Writes each array as ``arrays/<where>.npy`` and returns its manifest entry. An array
    held in two places (a module keeping a reference to a household field) is written once
    and both places name the same file, so after loading they are one array again."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir()
        self.written: dict[int, str] = {}  # id of the array -> its file
        self.keep: list[np.ndarray] = []  # written arrays stay alive, so ids stay unique

    def add(self, array: np.ndarray, where: str) -> dict:
        if id(array) in self.written:
            return {"array": self.written[id(array)]}
        if array.dtype.hasobject:
            raise SnapshotError(f"{where}: arrays of Python objects cannot be saved")
        name = f"{where}.npy"
        np.save(self.folder / name, array, allow_pickle=False)
        self.written[id(array)] = name
        self.keep.append(array)
        return {"array": name}


def _encode(value: Any, arrays: _ArrayWriter, where: str) -> Any:
    """JSON for a state value; tags keep what JSON would lose (exact types, tuples, dates)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.ndarray):
        return arrays.add(value, where)
    if isinstance(value, np.generic):
        return {"numpy": value.dtype.str, "value": value.item()}
    if isinstance(value, int | float):
        return value
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, tuple | list):
        items = [_encode(v, arrays, f"{where}.{i}") for i, v in enumerate(value)]
        return {"tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, set | frozenset):
        return {"set": [_encode(v, arrays, f"{where}.{i}") for i, v in enumerate(sorted(value))]}
    if isinstance(value, dict):  # keys may be tuples (ledger flows): kept as encoded pairs
        return {
            "dict": [
                [_encode(k, arrays, f"{where}.key{i}"), _encode(v, arrays, f"{where}.{i}")]
                for i, (k, v) in enumerate(value.items())
            ]
        }
    raise SnapshotError(
        f"{where}: a {type(value).__name__} cannot be saved in a snapshot "
        "(keep module state in arrays, numbers, strings, dates and containers of these)"
    )


def _recorder_table(recorder) -> pa.Table:
    rows = recorder.rows
    return pa.table(
        {
            "date": pa.array(rows["date"], pa.date32()),
            "indicator": pa.array(rows["indicator"], pa.string()),
            "dimension": pa.array(rows["dimension"], pa.string()),
            "group": pa.array(rows["group"], pa.string()),
            "value": pa.array(rows["value"], pa.float64()),
        }
    )


def _replace_folder(new: Path, target: Path) -> None:
    """Move the finished folder ``new`` to ``target``; an old snapshot there is removed only
    after the new one is in place."""
    old = None
    if target.exists():
        if not (target / MANIFEST).is_file() and any(target.iterdir()):
            raise SnapshotError(f"{target}: exists and is not a snapshot; not replacing it")
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(target.parent)


# --------------------------------------------------------------------------------------------
# Reading


def read_manifest(path: str | Path) -> dict:
    """The manifest of a complete snapshot, after checking its format and package version."""
    path = Path(path)
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise SnapshotError(f"{path}: not a complete snapshot (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{manifest_file}: unreadable ({exc})") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise SnapshotError(
            f"{path}: snapshot format {manifest.get('format')!r}, this jangmadang reads format "
            f"{FORMAT_VERSION}"
        )
    if manifest.get("package_version") != jangmadang.__version__:
        raise SnapshotError(
            f"{path}: written by jangmadang {manifest.get('package_version')}, this is "
            f"{jangmadang.__version__}; rerun with that version (model code may differ)"
        )
    return manifest


def load(path: str | Path, *, check_money: bool | None = None) -> Sim:
    """A simulation with the state saved in ``path``, ready to continue with ``run()``."""
    from jangmadang.scenario import ScenarioError, load_scenario
    from jangmadang.sim import Sim

    path = Path(path)
    manifest = read_manifest(path)
    try:
        scenario = load_scenario(path / "scenario.toml")
    except ScenarioError as exc:
        raise SnapshotError(f"{path}: its scenario no longer validates ({exc})") from None
    if scenario.fingerprint() != manifest["scenario_hash"]:
        raise SnapshotError(f"{path}: scenario.toml does not match the snapshot's scenario hash")
    arrays = _ArrayReader(path / "arrays")
    sim = Sim(scenario)
    sim.geography = Geography.load()
    sim.people = _decode_struct(manifest["people"], arrays)
    sim.households = _decode_struct(manifest["households"], arrays)
    sim.ledger = Ledger(sim.households.cash, sim.households.income)
    for name, value in manifest["ledger"].items():
        setattr(sim.ledger, name, _decode(value, arrays))
    sim.ledger.flows = defaultdict(float, sim.ledger.flows)
    for name, value in manifest["sim"].items():
        setattr(sim, name, _decode(value, arrays))
    if check_money is not None:
        sim.check_money = check_money
    saved = manifest["modules"]
    if list(saved) != [module.name for module in sim.modules]:
        raise SnapshotError(f"{path}: its modules {list(saved)} are not this model's modules")
    for module in sim.modules:
        for key, value in saved[module.name].items():
            setattr(module, key, _decode(value, arrays))
    sim.recorder.rows = _recorder_rows(path / "results.parquet")
    sim.pars = scenario.params_at(max(sim.t, 0))
    sim.initialized = True
    return sim


class _ArrayReader:
    def __init__(self, folder: Path):
        self.folder = folder
        self.loaded: dict[str, np.ndarray] = {}  # a file named twice gives one shared array

    def get(self, name: str) -> np.ndarray:
        if name not in self.loaded:
            file = self.folder / name
            if Path(name).name != name or not file.is_file():
                raise SnapshotError(f"{self.folder.parent}: array {name!r} is missing")
            self.loaded[name] = np.load(file, allow_pickle=False)
        return self.loaded[name]


def _decode_struct(entry: dict, arrays: _ArrayReader) -> ArrayStruct:
    struct = ArrayStruct(entry["n"])
    for name, value in entry["fields"].items():
        struct.set(name, arrays.get(value["array"]), inherit=name in entry["inherited"])
    struct.scratch = set(entry["scratch"])
    return struct


def _decode(value: Any, arrays: _ArrayReader) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    (tag,) = (k for k in value if k != "value")
    if tag == "array":
        return arrays.get(value["array"])
    if tag == "numpy":
        return np.dtype(value["numpy"]).type(value["value"])
    if tag == "date":
        return date.fromisoformat(value["date"])
    if tag == "tuple":
        return tuple(_decode(v, arrays) for v in value["tuple"])
    if tag == "set":
        return {_decode(v, arrays) for v in value["set"]}
    if tag == "dict":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value["dict"]}
    raise SnapshotError(f"unknown value tag {tag!r} in a snapshot manifest")


def _recorder_rows(path: Path) -> dict[str, list]:
    table = pq.read_table(path)
    return {column: table.column(column).to_pylist() for column in COLUMNS}
