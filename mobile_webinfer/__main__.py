"""`python -m mobile_webinfer` = `mwi`.  Guarded: model builds run in spawned children that import this."""

from .cli import main

if __name__ == "__main__":
    main()
