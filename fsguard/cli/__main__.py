"""``python3 -m fsguard.cli``: how the installed /usr/local/sbin/fsguard wrapper runs the CLI."""

import sys

from fsguard.cli import main

sys.exit(main())
