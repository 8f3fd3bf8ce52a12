"""The backend API service (ECS service ``backend-api`` behind the ALB, port ``$PORT``).

``python -m tradai.services.backend_api``. Routes live under ``/api/v1`` (one router per
resource); ``/health`` is the ALB's health check. Every ``/api/v1`` route needs a Cognito
token (see ``auth`` for why the backend validates it again after the gateway).
"""
