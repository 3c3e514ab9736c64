"""The box's durable record: the SQLite store and its single writer, the hash chain, the box's
identity, hearings, transcript revisions, users, verify, exports, playback and salvage.
"""
