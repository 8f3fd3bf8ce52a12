from tradai.services.backend_api.main import main

main()
