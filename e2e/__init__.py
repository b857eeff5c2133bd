"""End-to-end tests: a generated app in real headless Chromium (`tox -e e2e`)."""
