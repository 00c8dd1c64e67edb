"""`python -m bench.assets`: the targets are a report, so the exit code is 0 even when missed."""

from bench.assets import main

if __name__ == "__main__":
    main()
