"""Incidents: alerts grouped into one thread, one summary, one analysis budget."""
