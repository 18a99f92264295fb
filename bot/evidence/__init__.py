"""Live evidence from the monitoring systems: the only package that talks to them.

`pack.EvidenceGatherer` reads the configured Prometheus (`prometheus.py`) and Alertmanager
(`alertmanager.py`) for an alert — its own expression (`queries.py`), its service's catalog
signals — and returns a `models.EvidencePack` that `render.py` writes as evidence lines.
(Nothing is imported here: `bot.models` uses `bot.evidence.models`, and an eager import of the
gatherer would make that a cycle.)
"""
