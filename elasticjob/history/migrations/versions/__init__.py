"""The history's revisions, one file each, oldest first by number (Alembic reads them by file, not as a
package)."""
