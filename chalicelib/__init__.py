"""Khon Kaen City Municipality vaccine registration service."""
