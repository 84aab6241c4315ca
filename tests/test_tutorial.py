"""The tutorial stays true: every command in its ``bash`` blocks runs, in order, as a reader
types it, from the installation into a fresh environment to the reports, with smaller
populations, fewer runs and two years instead of six, so that it takes under a minute. The sizes it sets must all be
found (the tutorial's commands, not a copy), and the placeholders RUN_ID, OTHER_RUN_ID and
ENSEMBLE_ID become the ids the earlier commands stored, as a reader copies them."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from jangmadang.cli import app
from jangmadang.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
SMALL = [
    (r"--population \d+", "--population 5000", 4),
    (r"--runs \d+", "--runs 2", 2),
    (r"--start 2018-01 --end 2023-12", "--start 2020-01 --end 2021-12", 4),
]


def commands() -> list[list[str]]:
    """The command lines of each ``bash`` block, in order."""
    blocks = re.findall(r"```bash\n(.+?)```", TUTORIAL.read_text(), re.S)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def small(lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    for pattern, replacement, count in SMALL:
        text, made = re.subn(pattern, replacement, text)
        assert made == count, f"{pattern}: {made} in the tutorial, expected {count}"
    return text.splitlines()


def ids(results: Path) -> dict[str, str]:
    """The ids a reader copies from earlier output: the baseline run, the other run (its
    scenario's name comes from the tutorial's own command) and the ensemble."""
    store = ResultsStore(results)
    members = {
        run_id for e in store.ensembles().ensemble_id for run_id in store.ensemble_members(e).run_id
    }
    runs = store.runs()
    alone = runs[~runs.run_id.isin(members)]
    found = {}
    if len(alone):
        found["RUN_ID"] = alone.run_id[alone.scenario == "baseline"].iloc[0]
    others = alone.run_id[alone.scenario == "no_border_closure"]
    if len(others):
        found["OTHER_RUN_ID"] = others.iloc[0]
    ensembles = store.ensembles()
    ensembles = ensembles[ensembles.scenario == "strict_sanctions"].ensemble_id
    if len(ensembles):
        found["ENSEMBLE_ID"] = ensembles.iloc[0]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dashboard(args: list[str], cwd: Path, env: dict) -> str:
    """Start the dashboard as the tutorial says (on a free port), open its address, stop it."""
    port = free_port()
    server = subprocess.Popen(
        [*args, "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the dashboard did not answer in 60 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    return output


def test_tutorial_runs_as_written(tmp_path, monkeypatch):
    install, *rest = commands()
    assert install == [
        "python3 -m venv ~/jangmadang-env",
        ". ~/jangmadang-env/bin/activate",
        "pip install -e .",
    ]
    # The reader's home is a temporary folder; the fresh environment sees this one's packages
    # (a .pth file), so `pip install -e .` installs jangmadang itself without downloading the
    # dependencies again.
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    purelib = sysconfig.get_paths()["purelib"]
    script = (
        f"{install[0]} && "
        f'echo {shlex.quote(purelib)} > "$(~/jangmadang-env/bin/python -c '
        '\'import sysconfig; print(sysconfig.get_paths()["purelib"])\')/outer.pth" && '
        f"{install[1]} && {install[2]} --quiet && jangmadang scenarios"
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "no_border_closure" in done.stdout  # the installed command, from the fresh one
    # The rest runs with this suite's own environment, where the packages' data files (the
    # dashboard's scripts) are where they were installed; the fresh one above borrows only
    # their Python modules. The dashboard runs as a server of its own; the other commands run
    # in this process (the command the installation made was run above).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"

    cwd = tmp_path
    outputs = []
    for line in small([line for block in rest for line in block]):
        args = [str(home / arg[2:]) if arg.startswith("~/") else arg for arg in shlex.split(line)]
        if args[0] == "cd":
            cwd = cwd / args[1]  # an absolute path replaces cwd
            continue
        known = ids(cwd / "results") if (cwd / "results").exists() else {}
        for placeholder, value in known.items():
            args = [re.sub(rf"\b{placeholder}\b", value, arg) for arg in args]
        assert not [a for a in args if re.search(r"[A-Z]+_ID", a)], f"{line}: no id to copy yet"
        if args[:2] == ["jangmadang", "dashboard"]:
            outputs.append((line, dashboard(args, cwd, env)))
            continue
        if args[0] == "jangmadang":  # in this process: the same command, without a start-up
            monkeypatch.chdir(cwd)
            done = CliRunner().invoke(app, args[1:])
            assert done.exit_code == 0, f"{line}\n{done.output[-3000:]}"
            outputs.append((line, done.output))
            continue
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        outputs.append((line, done.stdout))

    said = dict(outputs)
    assert "no_border_closure" in said["jangmadang scenarios"]
    first_run = next(out for line, out in outputs if line.startswith("jangmadang run baseline"))
    assert re.search(r"run id\s+baseline-\S+", first_run) and "plot" in first_run
    compared = next(out for line, out in outputs if line.startswith("jangmadang compare"))
    assert all(word in compared for word in ("difference", "interval", "comparison.csv"))
    (served,) = [out for line, out in outputs if line == "jangmadang dashboard"]
    assert "http://127.0.0.1:" in served
    found = ids(cwd / "results")
    store = ResultsStore(cwd / "results")
    assert (store.run_dir(found["OTHER_RUN_ID"]) / f"report-{found['OTHER_RUN_ID']}.html").is_file()
    ensemble = cwd / "results" / "ensembles" / found["ENSEMBLE_ID"]
    assert (ensemble / f"report-{found['ENSEMBLE_ID']}.html").is_file()
    assert len(store.ensemble_members(found["ENSEMBLE_ID"])) == 2
