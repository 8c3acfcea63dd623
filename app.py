"""`python app.py [flags]`: AIGC Studio's web page, the same as `aigc serve [flags]`.

A thin launcher kept at the repository root so a checkout runs without installing a command;
the page itself lives in `aigc_ui/server.py`.
"""

import sys

from aigc_ui.server import main

if __name__ == "__main__":
    sys.exit(main())
