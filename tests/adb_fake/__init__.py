"""Tests of the fake phone itself (tests/fakephone)."""
