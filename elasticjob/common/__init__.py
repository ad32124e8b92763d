"""Small helpers shared by the processes (addresses, logging). No domain logic."""
