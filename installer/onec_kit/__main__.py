import sys

from installer.onec_kit.build import main

sys.exit(main(sys.argv[1:]))
