"""Clients for the other booking systems: Mor Phrom (national) and Khon Kaen Phrom (provincial)."""
