"""mobile-webinfer: in-browser vs native deep-learning inference, on phones over ADB and on this computer."""

__version__ = "0.1.0"
