"""Audio: capture backends, the channel→seat map, levels, and the archive with its hash chain."""
