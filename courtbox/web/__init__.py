"""The box's HTTP and WebSocket API, one router per resource, and the pages with their assets.
"""
