"""The README's quick start stays true: two commands, and CI runs the second."""

import re
from pathlib import Path

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
