"""``python -m gigachat.emulator``: run the emulator on its own."""

import sys

from gigachat.emulator.app import main

sys.exit(main())
