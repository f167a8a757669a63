import sys

from seqnet.cli import main

sys.exit(main())
