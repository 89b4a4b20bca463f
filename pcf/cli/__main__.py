"""`python -m pcf.cli`: the same command as `pcf`."""

from . import main

main()
