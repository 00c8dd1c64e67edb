"""`python -m bench.identity`: the targets are a report, so the exit code is 0 even when missed."""

from bench.identity import main

if __name__ == "__main__":
    main()
