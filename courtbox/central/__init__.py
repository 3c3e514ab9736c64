"""The court's centre: the collector that pulls boxes, verifies and keeps their records.
"""
