"""The headless heart of photosim. Nothing below this package may import Qt, the UI or the CLI."""
