"""The Locust integration (DESIGN §2 layer 5): the only package that imports Locust.

Pure parts: `units`, `options` (Settings), `shapes` (step functions; also the Locust shapes), `slo`, `pacing`,
`timeline`. Locust-facing parts: `metrics` (Recorder, the one place that fires ``events.request``), `runtime`
(listeners: timeline worker → master, run folder, SLO gate), `runlog`, `health`, `webui`, and `users`
(importing it registers the listeners). The top-level ``locustfile.py`` imports the users and shapes.
Nothing is imported here, so `import loadtest.harness.timeline` stays cheap.
"""
