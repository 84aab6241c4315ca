"""``python -m jangmadang``: the command line, for environments without the console script."""

from jangmadang.cli import app

app(prog_name="jangmadang")
