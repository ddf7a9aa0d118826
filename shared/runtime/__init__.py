"""The node runtime: node process, CLI, embedded server and demo. Uses the library; the library never imports it."""
