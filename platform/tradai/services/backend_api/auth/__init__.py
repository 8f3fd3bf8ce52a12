"""Cognito JWT validation, used by the API gateway stand-in and again by the backend.

Trust boundary: the backend does not trust a header that says who the caller is; it validates
the caller's own Cognito token (forwarded unchanged by the gateway) against the pool's JWKS.
A request that reaches the backend without passing the gateway (from inside the VPC, or a
misrouted ALB rule) is therefore still authenticated, and no shared secret exists to leak.
The cost is one RS256 verification (well under a millisecond) with a cached key set.
"""

from tradai.services.backend_api.auth.config import CognitoConfig, discover_cognito
from tradai.services.backend_api.auth.jwks import JwksCache
from tradai.services.backend_api.auth.verifier import Identity, TokenRejected, TokenVerifier

__all__ = ["CognitoConfig", "Identity", "JwksCache", "TokenRejected", "TokenVerifier",
           "discover_cognito"]
