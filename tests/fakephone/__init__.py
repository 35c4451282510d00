"""A fake Android phone that speaks the device side of the ADB protocol (scaffold)."""
