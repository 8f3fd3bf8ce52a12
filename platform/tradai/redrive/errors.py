"""The one error type of DLQ replay: a problem the operator can act on, said in one line."""


class RedriveError(Exception):
    pass
