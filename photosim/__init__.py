"""photosim: find similar photos and clean up near-duplicates, entirely on your machine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("photosim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
