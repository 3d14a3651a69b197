"""The committed gRPC stubs are exactly what `make proto` generates from proto/."""

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_a_fresh_generation(tmp_path):
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto" / "commentslab" / "v1").glob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-Iproto", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}",
         f"--grpc_python_out={tmp_path}", *protos],
        cwd=ROOT, check=True,
    )
    fresh = sorted(p.name for p in (tmp_path / "commentslab" / "v1").iterdir())
    committed = sorted(p.name for p in (ROOT / "proto" / "commentslab" / "v1").iterdir()
                       if p.suffix in {".py", ".pyi"} and p.name != "__init__.py")
    assert fresh == committed
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "commentslab" / "v1", ROOT / "proto" / "commentslab" / "v1",
                                           fresh, shallow=False)
    assert mismatch == [] and errors == [], f"stale stubs, run `make proto`: {mismatch or errors}"
