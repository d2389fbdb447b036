"""Duplicate photos: finding, judging and grouping them, and what to keep or trash."""
