"""The README stays true: its quick start is two commands (CI runs the second), and its
Python example and query run as written."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

from jangmadang.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_the_test_command():
    install_and_run, install_and_test = quick_start_commands()
    assert "jangmadang run" in install_and_run
    assert "pytest" in install_and_test
    assert install_and_test in (ROOT / ".ci" / "run").read_text()


def test_readme_names_every_builtin_scenario():
    import jangmadang as jm

    readme = (ROOT / "README.md").read_text()
    for name in jm.available_scenarios():
        assert f"`{name}`" in readme


def readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]


def small(code: str) -> str:
    """The README's Python example with small populations and two members per ensemble, so it
    runs in seconds; every size it sets must be found (the README's code, not a copy)."""
    substitutions = [
        (r"population=[\d_]+", "population=3_000", 4),
        (r'run_ensemble\("baseline", \d+', 'run_ensemble("baseline", 2', 1),
        (
            r'compare\("no_border_closure", "baseline", \d+',
            'compare("no_border_closure", "baseline", 2',
            1,
        ),
    ]
    for pattern, replacement, count in substitutions:
        code, made = re.subn(pattern, replacement, code)
        assert made == count, pattern
    return code


def test_readme_python_example_and_query_run_as_written(tmp_path):
    """The example runs as a saved script (Dask workers import it again), and the README's
    query selects the series of the one run it saved."""
    (code,) = re.findall(r"```python\n(.+?)```", readme_section("Python"), re.S)
    (tmp_path / "example.py").write_text(small(code))
    done = subprocess.run(
        [sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]

    store = ResultsStore(tmp_path / "results")
    (run_id,) = store.runs().query("seed == 2").run_id  # the run the example saved
    (line,) = [
        line for line in readme_section("Command line").splitlines() if "jangmadang query" in line
    ]
    args = shlex.split(line.replace("RUN_ID", run_id))
    assert args[0] == "jangmadang"
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    series = store.query(args[2])
    assert len(series) == 168 and series.date.is_unique  # 2012-2025, one run
    assert str(series.date.iloc[0])[:7] in done.stdout
