"""Sync to the court network: the box's identity and signatures (``identity``), the pull
API the agent serves (``server``), mDNS discovery (``discovery``), retention of audio the
centre has acknowledged (``retention``), and the central collector (``central``).
"""
