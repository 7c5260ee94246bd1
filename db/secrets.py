"""Secrets the deployment does not hand us: generated once, kept under the data directory.

Several processes (app, workers) share the data directory, so they share these keys too; a file
created with O_EXCL by the first one wins any race.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32


def load_or_create_secret(data_dir: Path, name: str) -> bytes:
    """The secret ``name`` from ``data_dir/secrets/``, created (32 random bytes, mode 0600) when
    missing."""
    folder = Path(data_dir) / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) < KEY_BYTES:
            raise ValueError(f"the secret file {path} is damaged (shorter than {KEY_BYTES} "
                             "bytes): remove it to generate a new one") from None
        return data
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(KEY_BYTES))
    return path.read_bytes()
