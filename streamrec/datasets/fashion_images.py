"""Reads the fashion product pictures out of ``images.tar`` by the URI the catalog records carry."""

from __future__ import annotations

import tarfile
from pathlib import Path
from types import TracebackType

from streamrec.datasets.errors import DatasetMissingError
from streamrec.datasets.fashion_catalog import DATASET, IMAGES_ARCHIVE, fashion_dir


class FashionImageArchive:
    """Random access to ``images.tar``: ``read("images.tar#images/1163.jpg") -> bytes``.

    The archive is indexed once on first use (a scan of its headers); open it in a load
    hook or a worker thread, never at import. Use it as a context manager, or call close().
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = fashion_dir(data_dir) / IMAGES_ARCHIVE
        if not self.path.is_file():
            raise DatasetMissingError(DATASET, self.path)
        self._tar: tarfile.TarFile | None = None

    def read(self, image_uri: str) -> bytes:
        """The JPEG bytes behind an image URI (or a bare member name such as ``images/1.jpg``)."""
        member = image_uri.split("#", 1)[1] if "#" in image_uri else image_uri
        if self._tar is None:
            # Kept open between reads on purpose; close() / __exit__ release it.
            self._tar = tarfile.open(self.path, mode="r:")  # noqa: SIM115
        try:
            handle = self._tar.extractfile(member)
        except KeyError:
            raise KeyError(f"{member} is not in {self.path}") from None
        if handle is None:
            raise KeyError(f"{member} in {self.path} is not a regular file")
        with handle:
            return handle.read()

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None

    def __enter__(self) -> FashionImageArchive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
