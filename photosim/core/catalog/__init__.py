"""The SQLite catalog of files, vectors, decisions and actions."""

from photosim.core.catalog.store import ActionItem, ActionRecord, Catalog, Folder

__all__ = ["ActionItem", "ActionRecord", "Catalog", "Folder"]
