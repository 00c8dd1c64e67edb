"""`python -m bench.csms`: the targets are a report, so the exit code is 0 even when missed."""

from bench.csms import main

if __name__ == "__main__":
    main()
