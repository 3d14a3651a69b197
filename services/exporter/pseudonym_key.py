"""The key that turns author names into pseudonyms (services/exporter/scrub.py ``author_id``).

Without the key a pseudonym cannot be recomputed from a candidate name, so a list of names matches none
of them: the key is what keeps the anonymisation. It comes from the deployment
(``COMMENTSLAB_PSEUDONYM_KEY_FILE``: a mounted Kubernetes Secret, or one the Secrets Store CSI driver
syncs from Azure Key Vault; or ``COMMENTSLAB_PSEUDONYM_KEY``), else on one machine it is made once and
kept in the user's state folder, outside every output folder, so records, reports and results never hold it.
There is no default key: a public one would be no key at all.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from commentslab.services.common.deployment_secrets import read_secret
from commentslab.services.common.errors import SettingError

PSEUDONYM_SECRET = "COMMENTSLAB_PSEUDONYM_KEY"


def local_key_path() -> Path:
    """Where a machine's own key is kept: ``$XDG_STATE_HOME/commentslab/pseudonym.key`` (default
    ``~/.local/state``)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "commentslab" / "pseudonym.key"


def _local_key() -> str:
    path = local_key_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # O_EXCL: two exports starting together make one key, and the loser reads the winner's.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingError(f"{PSEUDONYM_SECRET}_FILE", f"not set, and the machine's own key at {path} cannot be "
                                                       f"made or read ({exc.strerror}); set it to a file holding "
                                                       "the deployment's key") from None
    if not key:
        raise SettingError(str(path), "the pseudonym key file is empty; delete it to make a new key (pseudonyms "
                                      "then change) or restore it")
    return key


def pseudonym_key() -> str:
    """The deployment's pseudonym key, else this machine's (made on first use); a SettingError naming the
    setting when the deployment names a key that cannot be read."""
    return read_secret(PSEUDONYM_SECRET) or _local_key()
