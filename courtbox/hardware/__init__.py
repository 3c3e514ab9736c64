"""The box itself: audio device discovery, health probes, systemd notify and watchdog."""
