"""Apache Mesos as an offer source: a framework on the Mesos v1 scheduler HTTP API (JSON over HTTP).

- ``messages``: the calls we make and the events we read, as plain JSON values, and the RecordIO framing of
  the event stream (pure).
- ``mapping``: Mesos offers, task states and task infos to and from our own values (pure).
- ``book``: what the framework knows — offers held, agents seen, tasks launched (thread-safe, no I/O).
- ``source``: the I/O — the subscription thread, the calls thread, reconnection (``MesosOfferSource``).

The only dependency is httpx, which the base install already has: the ``elasticjob[mesos]`` extra exists
for the record and adds nothing. pymesos is not used: it does not install on Python >= 3.11 (its
http-parser dependency fails to compile). Nothing here is imported unless ``--mesos-master`` is given.
"""
