"""Where the server keeps its own files (the generated secret key): outside the source tree.

Flask's default instance folder is ``instance/`` next to the package, which for a source
checkout is inside the repository: ``git add -A`` then committed the key that signs every
session cookie and derives the platform-id hashes (issue 8). The folder is now, in order:

1. ``INSTANCE_DIR`` (``XAI_EVAL_INSTANCE_DIR``, ``xai-eval serve --instance-dir``);
2. the user data folder: ``$XDG_DATA_HOME/xai-eval`` (default ``~/.local/share/xai-eval``)
   on Linux, ``~/Library/Application Support/xai-eval`` on macOS, ``%LOCALAPPDATA%\\xai-eval``
   on Windows.

A secret key left in the old ``instance/`` folder by an earlier version is copied over once
(keeping it keeps participants' sessions and the platform-id hashes valid), with a warning
to delete the old copy. ``instance/`` is in ``.gitignore`` as well.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
SECRET_FILE = "secret_key"


def user_data_dir() -> Path:
    """The per-user data folder of xai-eval on this operating system."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "xai-eval"


def instance_dir(config: Mapping[str, Any]) -> Path:
    """The instance folder for a configuration (``INSTANCE_DIR``, else the user data folder)."""
    configured = config.get("INSTANCE_DIR")
    return Path(str(configured)).expanduser().resolve() if configured else user_data_dir()


def adopt_legacy_secret(folder: Path, legacy: Path) -> None:
    """Copy ``legacy/secret_key`` (the old in-tree location) to ``folder`` if only it exists."""
    old, new = legacy / SECRET_FILE, folder / SECRET_FILE
    if new.exists() or not old.exists() or old.resolve() == new.resolve():
        return
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(old, new)
    os.chmod(new, 0o600)
    log.warning("moved the server's secret key from %s to %s (outside the source tree); "
                "delete the old copy", old, new)
