import sys

from tradai.services.data_collection.main import main

sys.exit(main())
