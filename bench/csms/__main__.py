"""`python -m bench.csms` runs the CSMS protocol benchmark."""

import sys

from bench.csms.run import main

sys.exit(main())
