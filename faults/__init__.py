"""Reliability and security drills against a generated app over HTTP (`tox -e faults`)."""
