import sys

from tradai.services.strategy_service.main import main

sys.exit(main())
