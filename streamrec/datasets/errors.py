"""What goes wrong when a data set is read, said so that a person can fix it."""

from __future__ import annotations

from pathlib import Path

WHERE_DATA_LIVES = (
    "the data sets live in ../shared/data (relative to the project root); "
    "point STREAMREC_DATA_DIR (or --data-dir) at another folder if yours are elsewhere"
)


class DatasetMissingError(FileNotFoundError):
    """A file of a data set is not where the adapter expects it."""

    def __init__(self, dataset: str, path: Path) -> None:
        self.dataset = dataset
        self.path = Path(path)
        message = f"{dataset}: expected {self.path}, which does not exist; {WHERE_DATA_LIVES}"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class DatasetFormatError(ValueError):
    """A data set file exists but is not shaped as its adapter expects (header, a value)."""
