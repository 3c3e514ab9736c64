"""The agent process as a whole: its parts started in order and stopped in reverse, the demo,
and the systemd installation.
"""
