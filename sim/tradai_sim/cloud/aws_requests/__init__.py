"""Reading a raw AWS API request as AWS sees it (who signs, which service and operation, the
parameters) and answering an error in the request's own wire protocol. Shared by the request
interceptors in front of moto: FIS API-error injection and IAM enforcement."""
