"""`python -m shrinknas` runs the same CLI as the `shrinknas` script."""

from .cli import main

main()
