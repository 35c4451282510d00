"""pytest fixtures that start fake phones with a private adb server (scaffold)."""
