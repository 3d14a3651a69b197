"""Secrets the deployment provides: ``<NAME>_FILE`` naming a file (a mounted Kubernetes Secret, or one the
Secrets Store CSI driver syncs from Azure Key Vault), or ``<NAME>`` holding the value itself.

The file form comes first because an environment variable shows in a pod's spec and in ``ps e``, a file
mounted with mode 0440 does not.
"""

from __future__ import annotations

import os
from pathlib import Path

from commentslab.services.common.errors import SettingError

MIN_SECRET_CHARS = 16


def read_secret(name: str) -> str | None:
    """The secret ``name`` from ``$<name>_FILE`` or ``$<name>``; None when neither is set. A SettingError
    when the file is missing or unreadable, or the secret is shorter than MIN_SECRET_CHARS."""
    file_setting = f"{name}_FILE"
    path = os.environ.get(file_setting)
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingError(file_setting, f"cannot read {path} ({exc.strerror}); mount the secret there or "
                                             "point the variable at the file that holds it") from None
        setting = file_setting
    else:
        value = (os.environ.get(name) or "").strip()
        setting = name
        if not value:
            return None
    if len(value) < MIN_SECRET_CHARS:
        raise SettingError(setting, f"the secret is shorter than {MIN_SECRET_CHARS} characters; make a random one "
                                    "with `python -c 'import secrets; print(secrets.token_hex(32))'`")
    return value
