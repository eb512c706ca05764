"""Territories, their matching index and the assigner that picks owners."""
