"""Typed errors: each names the thing at fault and the reason, so the CLI can print one clear line."""

from __future__ import annotations


class CommentslabError(Exception):
    """Base of every error the system reports to a user instead of a traceback."""


class ConfigError(CommentslabError):
    """A profile or override that does not exist or does not type-check."""


class InputError(CommentslabError):
    """An input file or folder that is missing, unreadable or malformed."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class PortInUseError(CommentslabError):
    """A service could not bind its port."""

    def __init__(self, host: str, port: int, service: str = "server"):
        super().__init__(
            f"{service}: port {port} on {host} is already in use; pick another with --port "
            "(or stop the process holding it)"
        )
        self.host = host
        self.port = port


class ServiceError(CommentslabError):
    """A gRPC service that is unreachable or answered with an error."""


class SettingError(CommentslabError):
    """A deployment setting (a flag or an environment variable) that is missing or wrong: refuse to start."""

    def __init__(self, setting: str, reason: str):
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


class SandboxUnavailable(CommentslabError):
    """The sandbox cannot run programs in isolation here; the message names the setting to change.

    Never a program's outcome: a batch that meets it stops, so no score is computed without isolation.
    """


class ControlsFailed(CommentslabError):
    """The evaluation's controls failed: a reference solution did not pass or an empty body did not fail."""

    def __init__(self, reason: str, report: dict):
        super().__init__(reason)
        self.report = report


class MissingExtra(CommentslabError):
    """A command needs an optional dependency that is not installed; the message names the extra."""

    def __init__(self, module: str, extra: str):
        super().__init__(f"{module} is not installed; this needs the '{extra}' extra: "
                         f"pip install 'commentslab[{extra}]'")
        self.module = module
        self.extra = extra


# The optional packages, by top-level module, and the extra that installs each.
EXTRA_OF_MODULE = {
    "kfp": "kfp", "deepspeed": "train", "bitsandbytes": "train", "azure": "azure", "mcp": "mcp",
}


def missing_extra(exc: ModuleNotFoundError) -> MissingExtra | None:
    """The MissingExtra an import failure means, or None when the module belongs to no extra."""
    top = (exc.name or "").split(".")[0]
    return MissingExtra(top, EXTRA_OF_MODULE[top]) if top in EXTRA_OF_MODULE else None
