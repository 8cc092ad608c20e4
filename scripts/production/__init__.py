"""The production profile (``make run-prod``): docker-compose.yaml's stack as plain processes.

Same supervisor as ``make run`` (``scripts.embedded.supervisor``); the components and their
environment are compose's (``profile.py``), with loopback addresses. See deploy/README.md.
"""
