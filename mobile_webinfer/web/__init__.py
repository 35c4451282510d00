"""The page server, the page <-> host protocol and the vendored JS runtimes."""
