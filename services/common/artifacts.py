"""The one artifact store: URIs in, paths and JSON out, every step's output with a manifest.

Two backends behind the same functions: local files (`file://` URIs and plain paths) and Azure Blob
Storage (`az://container/path`, through azure-storage-blob). The blob account comes from the environment
(see `blob_service_client`): `AZURE_STORAGE_CONNECTION_STRING` (an account key, or Azurite's well-known
development string), else `AZURE_STORAGE_ACCOUNT_URL` with Azure identity (workload identity on AKS, as
the Helm chart sets it up). A "folder" in Blob Storage is a name prefix; writes are whole-blob uploads, so a
reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

from commentslab.services.common.errors import InputError

MANIFEST = "manifest.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
AZ_SCHEME = "az://"
CONNECTION_ENV = "AZURE_STORAGE_CONNECTION_STRING"
ACCOUNT_URL_ENV = "AZURE_STORAGE_ACCOUNT_URL"

Location = str | Path  # a plain path, a file:// URI or an az://container/path URI


def is_blob(location: Location) -> bool:
    """True for an `az://container/path` URI."""
    return isinstance(location, str) and location.startswith(AZ_SCHEME)


def to_path(uri: str | Path) -> Path:
    """The local path of a `file://` URI or plain path."""
    text = str(uri)
    parsed = urlparse(text)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme == "file" else text)
    if parsed.scheme == "az":
        raise InputError(text, "is an Azure Blob URI, not a local path; pass it to the artifact store's "
                               "read/write functions as it is")
    raise InputError(text, f"URI scheme {parsed.scheme!r} is not supported here; use a file:// or az:// URI or a path")


def to_location(uri: str | Path) -> Location:
    """What the store's functions take: the az:// URI as it is, else the local path."""
    return str(uri) if is_blob(str(uri)) else to_path(uri)


def to_uri(path: Location) -> str:
    """The URI of a location: `az://` URIs as they are, local paths as `file://`."""
    if is_blob(path):
        return str(path)
    return to_path(path).resolve().as_uri()


def join_uri(base: Location, *parts: str) -> Location:
    """`base` / parts, for a local folder or a blob prefix alike."""
    if is_blob(base):
        return "/".join([str(base).rstrip("/"), *(p.strip("/") for p in parts)])
    return to_path(base).joinpath(*parts)


def _split_blob(uri: str) -> tuple[str, str]:
    container, _, name = uri[len(AZ_SCHEME):].partition("/")
    if not container:
        raise InputError(uri, "an Azure Blob URI needs a container: az://container/path")
    return container, name


def blob_account(environ: Mapping[str, str], uri: str = AZ_SCHEME) -> tuple[str, str]:
    """How the environment names the blob account: ("connection_string", it) or ("account_url", it).

    A connection string wins when both are set: it was given on purpose (the chart sets it only from a
    Secret you name), and it carries its own key. Neither set is an InputError naming `uri`.
    """
    connection = environ.get(CONNECTION_ENV, "").strip()
    if connection:
        return "connection_string", connection
    url = environ.get(ACCOUNT_URL_ENV, "").strip()
    if url:
        return "account_url", url
    raise InputError(uri, f"Azure Blob URIs need {CONNECTION_ENV} set to the storage account's connection "
                          f"string (for Azurite, its development connection string), or {ACCOUNT_URL_ENV} "
                          "(https://<account>.blob.core.windows.net) with an Azure identity: workload "
                          "identity on AKS, a managed identity, or `az login`")


@lru_cache(maxsize=8)
def _service_client(kind: str, value: str):
    # One client (and one credential, which caches its tokens) per account for the life of the process.
    from azure.storage.blob import BlobServiceClient

    if kind == "connection_string":
        return BlobServiceClient.from_connection_string(value)
    from azure.identity import DefaultAzureCredential

    # On AKS the workload identity webhook sets AZURE_CLIENT_ID, AZURE_TENANT_ID and
    # AZURE_FEDERATED_TOKEN_FILE for pods of the chart's ServiceAccount, and DefaultAzureCredential
    # exchanges that token; elsewhere it falls back to a managed identity or the Azure CLI's login.
    return BlobServiceClient(account_url=value, credential=DefaultAzureCredential())


def blob_service_client(uri: str = AZ_SCHEME, environ: Mapping[str, str] | None = None):
    """The BlobServiceClient for the account the environment names (see `blob_account`)."""
    return _service_client(*blob_account(os.environ if environ is None else environ, uri))


def _container(uri: str, create: bool = False):
    """(ContainerClient, blob name) for an az:// URI."""
    from azure.core.exceptions import ResourceExistsError

    service = blob_service_client(uri)
    container, name = _split_blob(uri)
    client = service.get_container_client(container)
    if create:
        try:
            client.create_container()
        except ResourceExistsError:
            pass
    return client, name


def _blob_error(uri: str, exc: Exception) -> InputError:
    from azure.core.exceptions import ResourceNotFoundError

    if isinstance(exc, ResourceNotFoundError):
        return InputError(uri, "blob does not exist")
    return InputError(uri, f"Azure Blob Storage refused the request ({type(exc).__name__}: {str(exc)[:200]})")


def read_bytes(location: Location) -> bytes:
    """The bytes of a local file or a blob."""
    if not is_blob(location):
        try:
            return to_path(location).read_bytes()
        except FileNotFoundError as exc:
            raise InputError(str(location), "file does not exist") from exc
    from azure.core.exceptions import AzureError

    client, name = _container(str(location))
    try:
        return client.download_blob(name).readall()
    except AzureError as exc:
        raise _blob_error(str(location), exc) from exc


def write_bytes(location: Location, data: bytes) -> Location:
    """Write bytes atomically: temp file + rename locally, one whole-blob upload in Blob Storage."""
    if not is_blob(location):
        path = to_path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path
    from azure.core.exceptions import AzureError

    client, name = _container(str(location), create=True)
    try:
        client.upload_blob(name, data, overwrite=True)
    except AzureError as exc:
        raise _blob_error(str(location), exc) from exc
    return location


def exists(location: Location) -> bool:
    """True when the file (or blob) exists."""
    if not is_blob(location):
        return to_path(location).is_file()
    from azure.core.exceptions import AzureError

    client, name = _container(str(location))
    try:
        return client.get_blob_client(name).exists()
    except AzureError as exc:
        raise _blob_error(str(location), exc) from exc


def list_files(prefix: Location) -> list[Location]:
    """Every file under a local folder or blob prefix, sorted."""
    if not is_blob(prefix):
        root = to_path(prefix)
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    client, name = _container(str(prefix))
    container = _split_blob(str(prefix))[0]
    start = name.rstrip("/") + "/" if name else ""
    try:
        return sorted(f"{AZ_SCHEME}{container}/{b.name}" for b in client.list_blobs(name_starts_with=start))
    except ResourceNotFoundError:
        return []
    except AzureError as exc:
        raise _blob_error(str(prefix), exc) from exc


def sha256_file(path: Location) -> str:
    """Hex SHA-256 of a file's bytes, or of a folder's files (names and bytes, sorted); blobs alike."""
    if is_blob(path):
        digest = hashlib.sha256()
        blobs = list_files(path)
        if not blobs:  # a single blob, not a prefix
            digest.update(read_bytes(path))
        for blob in blobs:
            digest.update(str(blob)[len(str(path).rstrip("/")) + 1 :].encode())
            digest.update(read_bytes(blob))
        return digest.hexdigest()
    path = to_path(path)
    digest = hashlib.sha256()
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in paths:
        if path.is_dir():
            digest.update(str(p.relative_to(path)).encode())
        with p.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_json(path: Location) -> dict:
    """A JSON file (or blob) as a dict, or an InputError naming it and the reason."""
    try:
        return json.loads(read_bytes(path).decode("utf-8"))
    except InputError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(path), f"not readable as JSON ({exc})") from exc


def write_json(path: Location, data: object) -> Location:
    """Write JSON atomically (temp file + rename, or one blob upload) so a killed run never leaves half a file."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_bytes(path, text.encode("utf-8"))


def _blob_lines(uri: str) -> Iterator[str]:
    # Chunked download: a large records blob streams through bounded memory.
    from azure.core.exceptions import AzureError

    client, name = _container(uri)
    try:
        stream = client.download_blob(name)
        pending = b""
        for chunk in stream.chunks():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8")
        if pending:
            yield pending.decode("utf-8")
    except AzureError as exc:
        raise _blob_error(uri, exc) from exc


def read_jsonl(path: Location) -> Iterator[dict]:
    """Rows of a JSONL file or blob; a malformed line raises an InputError naming the file and line."""
    if is_blob(path):
        lines: Iterable[str] = _blob_lines(str(path))
    else:
        path = to_path(path)
        if not path.is_file():
            raise InputError(str(path), "file does not exist")
        lines = _file_lines(path)
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}", f"not valid JSON ({exc.msg})") from exc


def _file_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        yield from handle


def write_jsonl(path: Location, rows: Iterable[dict]) -> int:
    """Write rows as JSONL atomically (to a local file, or spooled then uploaded as one blob); returns the count."""
    if is_blob(path):
        count = 0
        # Spool to disk past 64 MiB so a large export never sits whole in memory.
        with tempfile.SpooledTemporaryFile(max_size=64 << 20, mode="w+b") as spool:
            text = io.TextIOWrapper(spool, encoding="utf-8")
            for row in rows:
                text.write(_encoded(row) + "\n")
                count += 1
            text.flush()
            spool.seek(0)
            from azure.core.exceptions import AzureError

            client, name = _container(str(path), create=True)
            try:
                client.upload_blob(name, spool, overwrite=True)
            except AzureError as exc:
                raise _blob_error(str(path), exc) from exc
            text.detach()
        return count
    path = to_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(_encoded(row) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def _encoded(row) -> str:
    # A row that carries its own JSON (`encoded_json`, e.g. from an export worker) is written as it is.
    encoded = getattr(row, "encoded_json", None)
    return encoded if isinstance(encoded, str) else json.dumps(row, ensure_ascii=False)


COMMIT_VARIABLE = "COMMENTSLAB_COMMIT"


def code_version() -> str:
    """The commit of the code: $COMMENTSLAB_COMMIT where set (the images bake it in at build time, having
    no git), else the checkout's git commit (with `-dirty` when the tree has changes), else `unknown`."""
    baked = os.environ.get(COMMIT_VARIABLE, "").strip()
    if baked and baked != "unknown":
        return baked
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("-dirty" if dirty else "")) if commit else "unknown"


@dataclass
class Manifest:
    """What a step's output was made from: a step whose manifest matches is skipped on re-run."""

    step: str
    inputs: dict[str, str]  # name -> sha256 of the input file or folder
    config: dict
    code_version: str = field(default_factory=code_version)
    outputs: dict = field(default_factory=dict)
    # Wall seconds the step took when it ran: a run resumed in a later session still knows what each step cost.
    seconds: float | None = None

    def key(self) -> dict:
        """The fields that decide whether a rerun can reuse the output."""
        return {"step": self.step, "inputs": self.inputs, "config": self.config, "code": self.code_version}


def manifest_for(step: str, inputs: dict[str, Path], config: dict) -> Manifest:
    """A manifest naming each input (a local path or an az:// URI) by its content hash."""
    return Manifest(step=step, inputs={k: sha256_file(p) for k, p in inputs.items()}, config=config)


def completed(out_dir: Path, manifest: Manifest) -> dict | None:
    """The stored outputs when `out_dir` (a folder or blob prefix) holds a manifest with the same key, else None."""
    path = join_uri(out_dir, MANIFEST)
    if not exists(path):
        return None
    try:
        stored = json.loads(read_bytes(path).decode("utf-8"))
    except (InputError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    same = {k: stored.get(k) for k in ("step", "inputs", "config")} == {
        k: v for k, v in manifest.key().items() if k != "code"
    } and stored.get("code_version") == manifest.code_version
    # A dirty tree can't promise the code is the same, so it never reuses.
    if same and not manifest.code_version.endswith("-dirty") and manifest.code_version != "unknown":
        return stored.get("outputs", {})
    return None


def recorded_seconds(out_dir: Path) -> float:
    """The wall seconds `out_dir`'s manifest says its step took; 0.0 when it does not say (written before it did)."""
    try:
        seconds = json.loads(read_bytes(join_uri(out_dir, MANIFEST)).decode("utf-8")).get("seconds")
    except (InputError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return 0.0
    return float(seconds) if isinstance(seconds, int | float) else 0.0


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    """Record that `out_dir` (a folder or blob prefix) is complete for this manifest; written last, after the outputs."""
    return write_json(join_uri(out_dir, MANIFEST), asdict(manifest))
