"""`python -m aigc.cli ...` is the `aigc` command (used for child processes, which must not rely on PATH)."""

import sys

from aigc.cli.main import main

sys.exit(main())
