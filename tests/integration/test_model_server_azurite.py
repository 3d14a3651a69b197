"""The model server loads an arm from Azure Blob Storage (a real Azurite): downloaded once, served like a local one."""

from __future__ import annotations

import pytest
from test_azurite_storage import azurite  # noqa: F401  (the sibling module's Azurite fixture, started once here)

from commentslab.services.common.artifacts import write_bytes
from commentslab.services.common.config import load_config
from commentslab.services.common.errors import InputError
from commentslab.services.common.models import build_base_model, load_tokenizer, save_checkpoint
from commentslab.services.serving.checkpoints import CheckpointNotFound, local_checkpoint
from commentslab.services.serving.generate import Generator, Sampling

pytestmark = pytest.mark.integration


def test_an_az_checkpoint_is_downloaded_once_and_generates_as_the_local_copy(azurite, monkeypatch,  # noqa: F811
                                                                            tmp_path):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    monkeypatch.setenv("COMMENTSLAB_CACHE", str(tmp_path / "cache"))
    cfg = load_config("smoke").model
    tokenizer = load_tokenizer(cfg)
    local = save_checkpoint(build_base_model(cfg, len(tokenizer), seed=2), tokenizer, tmp_path / "ck", cfg, "full")
    for path in local.rglob("*"):
        if path.is_file():
            write_bytes(f"az://checkpoints/runs/1/control/{path.relative_to(local)}", path.read_bytes())
    write_bytes("az://checkpoints/runs/1/notes/readme.txt", b"not a checkpoint")

    uri = "az://checkpoints/runs/1/control"
    downloaded = local_checkpoint(uri)
    assert sorted(p.name for p in downloaded.iterdir() if p.name != ".download-complete") == sorted(
        p.name for p in local.iterdir())
    assert local_checkpoint(uri + "/") == downloaded  # cached: the same folder, no second download
    gen = Generator(max_batch=8, device="cpu")
    try:
        gen.load("blob", uri)
        gen.load("file", local.as_uri())
        sampling = Sampling(n=2, temperature=0.8, max_new_tokens=8, seed=3)
        assert gen.generate("blob", ["def f(x):\n"], sampling)[0] == gen.generate("file", ["def f(x):\n"], sampling)[0]
        with pytest.raises(CheckpointNotFound, match="holds no blobs"):
            gen.load("x", "az://checkpoints/runs/2/control")
        with pytest.raises(InputError, match="not a commentslab checkpoint"):
            gen.load("x", "az://checkpoints/runs/1/notes")
    finally:
        gen.close()
