"""The Locust integration (DESIGN §2 layer 5): the only package that imports Locust, in its glue modules.

Pure (no Locust, no gevent; unit-tested on plain data): `options` (every option declared once, and the
validated `Settings`), `values` (the option value parsers), `steps` (shape steps, `StepSearch` and its
verdicts), `slo`, `pacing`, `timeline` (worker → master assembly), `failures`, `runstate` (the writing
process's typed run state and its decisions) and `runlog` (the run folder's files). Locust and gevent glue:
`shapes` (the Locust load shapes over `steps`), `metrics` (`Recorder`, the one place that fires
``events.request``), `locuststats`, `health` (loop lag), `runtime` (Locust's events: settings, recorder,
worker → master), `writer` (`RunWriter`: assembly, run folder, SLO gate, end of the run on the writing
process), the web UI subpackage `webui/` (routes, tables, live plots and their renderer), and `users`
(importing it registers the listeners). The top-level ``locustfile.py`` imports the shapes and users.

Nothing is imported here, so importing one pure module stays cheap: ``tests/test_imports.py`` checks
that none of them pulls Locust in, and that ``loadtest/`` has no import cycle.
"""
