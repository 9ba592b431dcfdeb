"""Backups of the Faktory data: manifests, snapshots taken through the engine, verify, restore.

`faktctl.backups.manifest` is the on-disk format and the only module other features (the audit)
need; it imports nothing heavy. The other modules talk to the engine and are imported lazily by
the backup and restore commands.
"""
