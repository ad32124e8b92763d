"""The master <-> agent gRPC protocol: generated code (``agent_pb2*``, from ``proto/``) and thin helpers.

Regenerate with ``make proto`` after editing ``proto/elasticjob/protocol/agent.proto``.
"""
