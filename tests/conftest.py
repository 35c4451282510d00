"""Root pytest configuration: shared fixtures are plugins owned by their areas."""

pytest_plugins = ["tests.fakephone.pytest_fixtures"]
