"""`python -m bench.billing`: the targets are a report, so the exit code is 0 even when missed."""

from bench.billing import main

if __name__ == "__main__":
    main()
