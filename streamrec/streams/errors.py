"""Errors the streaming layer raises to its callers."""


class KafkaUnavailableError(RuntimeError):
    """The broker did not answer within the configured time; says where it looked."""
