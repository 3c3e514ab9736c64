"""The agent: config, the SQLite store, the hearing lifecycle, the HTTP API, the CLI."""
