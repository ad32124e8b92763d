"""ElasticJob for Python: a distributed, sharded job platform coordinated through ZooKeeper."""

__version__ = "0.1.0"
