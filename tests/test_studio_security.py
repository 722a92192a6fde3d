"""Studio security: names and paths stay inside the workspace, tokens, binding, uploads and zip-slip."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from muybridge.errors import MuybridgeError
from muybridge.studio import StudioSettings, create_app
from muybridge.studio.errors import StudioError
from muybridge.studio.security import check_bind
from muybridge.studio.uploads import UploadLimits
from muybridge.studio.workspace import Workspace

LOCAL = "http://127.0.0.1"
TOKEN = "s3cret-token-42"


@pytest.fixture
def workspace(tmp_path: Path, tiny_model_dir: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(tiny_model_dir, root / "models" / "tiny")
    return root


@pytest.fixture
def client(workspace: Path) -> Iterator[TestClient]:
    limits = UploadLimits(max_bytes=64 * 1024, max_files=5)
    settings = StudioSettings(workspace=workspace, bundled_dir=None, upload=limits)
    with TestClient(create_app(settings), base_url=LOCAL) as test_client:
        yield test_client


def test_workspace_paths_refuse_traversal_absolute_and_symlink_escape(tmp_path: Path) -> None:
    space = Workspace(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    (space.root / "outputs" / "link").symlink_to(outside)
    assert space.inside("outputs", "a.png") == space.root / "outputs" / "a.png"
    for parts in (("outputs", "../../etc/passwd"), ("/etc/passwd",), ("outputs", "link", "x.png"),
                  ("outputs", "..\\x")):
        with pytest.raises(StudioError):
            space.inside(*parts)
    for name in ("..", "../x", "/abs", "a/b", ".hidden", ""):
        with pytest.raises(StudioError):
            space.area("models", name)


def test_traversal_through_the_api_is_refused(client: TestClient, workspace: Path) -> None:
    secret = workspace.parent / "secret.txt"
    secret.write_text("do not read")
    for url in ("/v1/outputs/..%2F..%2Fsecret.txt", "/v1/outputs/%2E%2E/%2E%2E/secret.txt",
                f"/v1/outputs/{secret}", "/v1/models/..%2F..%2Fsecret.txt", "/v1/datasets/..%2Fmodels"):
        response = client.get(url)
        assert response.status_code in (400, 404), url
        assert "do not read" not in response.text and list(response.json()) == ["error"]
    rename = client.patch("/v1/models/tiny", json={"name": "../escaped"})
    assert rename.status_code == 400 and "bad model name" in rename.json()["error"]
    absolute = client.patch("/v1/models/tiny", json={"name": str(workspace.parent / "abs")})
    assert absolute.status_code == 400
    assert (workspace / "models" / "tiny").is_dir() and not (workspace.parent / "escaped").exists()
    bad_train = client.post("/v1/train", json={"dataset": "../models", "minutes": 1})
    assert bad_train.status_code == 400


def test_symlink_escape_is_refused_and_never_deleted(client: TestClient, workspace: Path,
                                                      tiny_model_dir: Path) -> None:
    elsewhere = workspace.parent / "elsewhere"
    shutil.copytree(tiny_model_dir, elsewhere)
    (workspace / "models" / "escape").symlink_to(elsewhere)
    (workspace / "outputs" / "out").symlink_to(workspace.parent)
    assert client.get("/v1/models/escape").status_code == 400
    assert client.delete("/v1/models/escape?confirm=escape").status_code == 400
    assert client.get("/v1/outputs/out/elsewhere/config.json").status_code == 400
    assert (elsewhere / "model.safetensors").is_file()


def test_token_is_required_when_set(workspace: Path) -> None:
    settings = StudioSettings(workspace=workspace, bundled_dir=None, token=TOKEN)
    with TestClient(create_app(settings), base_url="http://studio.example:7860") as client:
        missing = client.get("/v1/models")
        wrong = client.get("/v1/models", headers={"Authorization": "Bearer nope-nope-nope"})
        assert missing.status_code == wrong.status_code == 401
        assert "token" in missing.json()["error"]
        assert client.get("/").status_code == 401 and client.get("/openapi.json").status_code == 401
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        page = client.get(f"/?token={TOKEN}")  # the browser's first visit: the token becomes a cookie
        assert page.status_code == 200 and "HttpOnly" in page.headers["set-cookie"]
        assert client.get("/v1/models").status_code == 200  # now carried by the cookie


def test_without_token_only_loopback_hosts_and_same_origin(client: TestClient) -> None:
    rebound = client.get("/v1/models", headers={"Host": "attacker.example"})
    assert rebound.status_code == 403
    cross_site = client.post("/v1/generate", json={"class": "cat"}, headers={"Origin": "http://evil.example"})
    assert cross_site.status_code == 403 and "cross-origin" in cross_site.json()["error"]
    same_site = client.post("/v1/generate", json={"class": "cat", "seed": 1}, headers={"Origin": LOCAL})
    assert same_site.status_code == 200


def test_non_loopback_bind_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("localhost", None)
    check_bind("0.0.0.0", TOKEN)
    for host in ("0.0.0.0", "192.168.1.5", "::"):
        with pytest.raises(MuybridgeError, match="--token"):
            check_bind(host, None)
    with pytest.raises(MuybridgeError, match="8-256"):
        check_bind("0.0.0.0", "short")


def test_cli_refuses_non_local_bind_without_token() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "muybridge", "studio", "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: --host 0.0.0.0") and "--token" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # one message (rich may wrap it), no traceback


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_oversize_upload_is_refused(client: TestClient, workspace: Path) -> None:
    big = client.post("/v1/datasets", data={"name": "big"},
                      files=[("files", ("a.png", b"x" * 100_000, "image/png"))])
    assert big.status_code == 413 and "limit" in big.json()["error"]
    bomb = _zip({"cat/a.png": b"\0" * 200_000})  # compresses far below the limit, unpacks above it
    unpacked = client.post("/v1/datasets", data={"name": "bomb"},
                           files=[("files", ("b.zip", bomb, "application/zip"))])
    assert unpacked.status_code == 413
    many = client.post("/v1/datasets", data={"name": "many"},
                       files=[("files", (f"{i}.png", b"x", "image/png")) for i in range(7)])
    assert many.status_code in (400, 413)
    assert list((workspace / ".staging").iterdir()) == [] and not (workspace / "datasets" / "big").exists()


def test_zip_slip_is_refused(client: TestClient, workspace: Path) -> None:
    for entry in ("../evil.png", "/abs/evil.png", "cat/../../evil.png", "..\\evil.png"):
        response = client.post("/v1/datasets", data={"name": "slip"},
                               files=[("files", ("slip.zip", _zip({entry: b"png"}), "application/zip"))])
        assert response.status_code == 400, entry
        assert "unsafe entry" in response.json()["error"]
    assert not (workspace / "evil.png").exists() and not (workspace.parent / "evil.png").exists()
    assert list((workspace / ".staging").iterdir()) == []


def test_zip_with_symlink_entry_is_refused(client: TestClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("cat/link.png")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    response = client.post("/v1/datasets", data={"name": "links"},
                           files=[("files", ("l.zip", buffer.getvalue(), "application/zip"))])
    assert response.status_code == 400 and "symbolic link" in response.json()["error"]
