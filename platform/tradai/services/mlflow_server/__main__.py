import sys

from tradai.services.mlflow_server.main import main

sys.exit(main())
