"""``python -m tradai.strategy_container``: the container's command (task definition
``strategy``)."""

import sys

from tradai.strategy_container.app import main

sys.exit(main())
