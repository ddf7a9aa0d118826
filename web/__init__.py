"""Lotse's web app: server-rendered pages for every role, a client of the nodes' public HTTP API."""
