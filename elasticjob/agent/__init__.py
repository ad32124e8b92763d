"""The agent: ZooKeeper membership, the link to the leader, and everything that runs a task.

gRPC's fork handlers must be off in this process: the agent forks only to exec a task, and with the
handlers on, a fork while a gRPC thread is busy can abort the child (seen as tasks dying of SIGABRT).
The variable is read when gRPC is first imported, hence here, before any agent module imports it.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
