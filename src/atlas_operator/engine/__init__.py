"""The schema engine: URLs, schema model, inspection, diff, planning, apply, migrations.

Nothing in this package imports Kubernetes code; the operator imports the engine.
"""
