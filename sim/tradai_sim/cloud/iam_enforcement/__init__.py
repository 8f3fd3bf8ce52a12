"""IAM enforced locally: every call signed with a role's assumed credentials is authorised
against that role's policies (moto's IAM state) before moto serves it.

- ``principals``: access key -> assumed role -> its policy documents (cached);
- ``actions``: a request -> the (action, resource, condition context) checks AWS makes;
- ``evaluator``: AWS's identity-policy evaluation (explicit Deny > Allow > implicit deny);
- ``denial``: the access-denied error each service answers, in the request's protocol;
- ``interceptor``: the request interceptor, its modes and its records; ``part``: wiring and
  ``/_sim/iam``.
"""
