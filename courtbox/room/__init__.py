"""One courtroom live: capture wired to the archive and to speech, the recogniser and the
record; the session and its parts, the health watch, and the benchmark that drives this same
path on recorded audio.
"""
