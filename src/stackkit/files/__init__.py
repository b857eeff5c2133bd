"""Files and images: the `Storage` contract with a local folder and S3-compatible
object stores behind it, the `stackkit_files` table, and `file_column()` for models.

    class Note(Model):
        photo: Mapped[str | None] = file_column(image=True, max_size=5_000_000)

A resource of such a model gets upload and download routes for the field; see
docs/files.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackkit.files.column import file_column, file_rule
from stackkit.files.kinds import IMAGE_TYPES, FileRule, NotAnImage, make_thumbnail, sniff
from stackkit.files.local import LocalStorage
from stackkit.files.service import FileProblem, Files, StoredFile
from stackkit.files.settings import storage_from_settings
from stackkit.files.storage import FileTooLarge, PresignedUpload, Storage, StoredFileMissing
from stackkit.files.table import create_file_table, create_file_tables, drop_file_table
from stackkit.lazy import lazy_attributes

if TYPE_CHECKING:
    from stackkit.files.s3 import S3Storage

__all__ = [
    "IMAGE_TYPES",
    "FileProblem",
    "FileRule",
    "FileTooLarge",
    "Files",
    "LocalStorage",
    "NotAnImage",
    "PresignedUpload",
    "S3Storage",
    "Storage",
    "StoredFile",
    "StoredFileMissing",
    "create_file_table",
    "create_file_tables",
    "drop_file_table",
    "file_column",
    "file_rule",
    "make_thumbnail",
    "sniff",
    "storage_from_settings",
]

# botocore loads only for an app that stores its files in S3.
__getattr__ = lazy_attributes(__name__, {"S3Storage": "stackkit.files.s3"})
