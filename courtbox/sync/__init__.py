"""Sync to the court network: wire protocol, outbox reader, discovery, signing, collector.

Empty until the sync issue lands; the outbox it will read is already written by
``courtbox.agent.store`` (every durable record gets a ``seq`` in one table).
"""
