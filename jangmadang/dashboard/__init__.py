"""``jangmadang dashboard``: the model in a browser, for readers who do not use a terminal.

A Solara app with one file a page: ``run`` (pick a scenario, move parameters within their
evidence ranges, watch the run month by month, cancel it), ``results`` (the catalog's runs and
ensembles, chosen series with events, downloads), ``compare`` (two runs, two ensembles, or two
scenarios run as paired ensembles with 95% intervals), ``map`` (a province choropleth with a
month slider) and ``evidence`` (the ledger, searchable). ``jobs`` runs simulations in threads
of the server so a page can follow and cancel them; ``common`` holds what pages share.

Everything goes through the results store of one folder (``--out``), so runs started here are
catalogued exactly as the command line's, and the page can reach no other file: no path and no
SQL is ever typed into it. ``--read-only`` leaves only the browsing.
"""

from jangmadang.dashboard.config import Settings, configure, settings, without_telemetry

__all__ = ["Settings", "configure", "settings", "without_telemetry"]
