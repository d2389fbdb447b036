"""The main window's controllers: each owns one part of the app's background work (indexing,
watching, the library grid, find-similar, duplicates, clusters, trash) and the views it fills.
The window itself is only the shell that builds them and wires them together."""
