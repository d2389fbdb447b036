"""photosim: find similar photos and clean up near-duplicates, entirely on your machine."""

# A literal, not importlib.metadata: reading the metadata costs ~0.15 s at every start
# (`photosim --version` included). tests/test_packaging.py keeps it equal to pyproject's.
__version__ = "0.1.0"
