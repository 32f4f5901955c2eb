"""``python3 -m fs_python.cli``: how the installed /usr/local/sbin/fsguard wrapper runs the CLI."""

import sys

from fs_python.cli import main

sys.exit(main())
