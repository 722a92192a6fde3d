"""Studio security: names and paths stay inside the workspace, tokens, binding, uploads and zip-slip."""

from __future__ import annotations

import io
import shutil
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from muybridge.errors import MuybridgeError
from muybridge.studio import StudioSettings, create_app
from muybridge.studio.errors import Busy, StudioError
from muybridge.studio.jobs import JobManager
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


# ---------- cross-site requests, security headers, dataset delete, limits, offline docs (issue 17) ----------

FOREIGN_ORIGINS = ("null", "http://evil.example", "http://127.0.0.1.evil.example", "https://127.0.0.1:7860",
                   "file://", "http://127.0.0.1/path")


def _make_dataset(workspace: Path, name: str = "pets") -> Path:
    from muybridge.data.format import DATASET_FILE

    folder = workspace / "datasets" / name
    folder.mkdir(parents=True)
    (folder / DATASET_FILE).write_text('{"count": 2, "classes": ["cat"], "resolution": 32, "counts": {}}')
    return folder


def _state_changing_requests(client: TestClient) -> dict[str, Callable[[dict[str, str]], Any]]:
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, format="PNG")
    return {
        "datasets upload": lambda h: client.post("/v1/datasets", data={"name": "x"}, headers=h,
                                                 files=[("files", ("a.png", png.getvalue(), "image/png"))]),
        "pets": lambda h: client.post("/v1/pets", headers=h, data={"steps": "0"},
                                      files=[("photo", ("a.png", png.getvalue(), "image/png"))]),
        "animate": lambda h: client.post("/v1/animate", json={"mode": "nonsense"}, headers=h),
        "generate": lambda h: client.post("/v1/generate", json={"class": "cat", "seed": 1}, headers=h),
        "train": lambda h: client.post("/v1/train", json={"dataset": "missing"}, headers=h),
        "train stop": lambda h: client.post("/v1/train/stop", headers=h),
        "rename": lambda h: client.patch("/v1/models/tiny", json={"name": "tiny"}, headers=h),
        "model delete": lambda h: client.delete("/v1/models/tiny", headers=h),
        "dataset delete": lambda h: client.delete("/v1/datasets/nothing", headers=h),
        "put": lambda h: client.put("/v1/models/tiny", json={}, headers=h),
    }


def test_state_changing_routes_refuse_null_and_foreign_origins(client: TestClient) -> None:
    for route, send in _state_changing_requests(client).items():
        for origin in FOREIGN_ORIGINS:
            response = send({"Origin": origin})
            assert response.status_code == 403, (route, origin, response.text)
            body = response.json()
            assert list(body) == ["error"] and "cross-origin" in body["error"] and "\n" not in body["error"]
        # A browser that names another site without an Origin header is refused too.
        assert send({"Sec-Fetch-Site": "cross-site"}).status_code == 403, route
        # The studio's own page, and command-line clients (curl sends no Origin), pass the guard.
        for headers in ({"Origin": LOCAL}, {}, {"Sec-Fetch-Site": "same-origin"}):
            response = send(headers)
            assert response.status_code != 403, (route, headers, response.text)
    assert (client.app.state.studio.workspace.root / "models" / "tiny").is_dir()  # type: ignore[attr-defined]
    # Reading stays open to any origin's page? No: a GET is never refused for its Origin (it changes nothing).
    assert client.get("/v1/models", headers={"Origin": "null"}).status_code == 200


def test_origin_must_match_the_host_with_its_port(workspace: Path) -> None:
    settings = StudioSettings(workspace=workspace, bundled_dir=None)
    with TestClient(create_app(settings), base_url="http://localhost:7860") as client:
        own = client.post("/v1/generate", json={"class": "cat", "seed": 1},
                          headers={"Origin": "http://LOCALHOST:7860"})
        assert own.status_code == 200
        other_port = client.post("/v1/generate", json={"class": "cat", "seed": 1},
                                 headers={"Origin": "http://localhost:9999"})
        assert other_port.status_code == 403


SECURITY_HEADER_VALUES = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
                          "referrer-policy": "no-referrer"}


def _assert_security_headers(response: Any) -> None:
    for key, value in SECURITY_HEADER_VALUES.items():
        assert response.headers.get(key) == value, (response.request.url, key)
    policy = response.headers.get("content-security-policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"] and directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in directives.get("script-src", []) and "'unsafe-eval'" not in policy


def test_security_headers_on_every_response(workspace: Path) -> None:
    settings = StudioSettings(workspace=workspace, bundled_dir=None)
    app = create_app(settings)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as client:
        responses = [client.get("/"), client.get("/static/app.js"), client.get("/static/style.css"),
                     client.get("/v1/models"), client.get("/v1/nothing"), client.get("/static/nothing.js"),
                     client.post("/v1/generate", json={}), client.get("/docs"), client.get("/openapi.json"),
                     client.post("/v1/generate", json={"class": "cat"}, headers={"Origin": "null"}),
                     client.get("/v1/models", headers={"Host": "attacker.example"}),
                     client.get("/v1/outputs/a%00.png")]

        def broken(name: str) -> None:
            raise RuntimeError("secret internals")

        app.state.studio.catalog.load = broken
        responses.append(client.post("/v1/generate", json={"class": "cat", "seed": 1}))
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 404, 404, 422, 200, 200, 403, 403, 400, 500]
    for response in responses:
        _assert_security_headers(response)


def test_the_ui_runs_under_the_content_security_policy() -> None:
    """The policy allows scripts and styles from the studio only: the page has no inline script or style."""
    import re

    from muybridge.studio.app import STATIC

    html = (STATIC / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL | re.IGNORECASE)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.IGNORECASE)  # no inline event handlers
    assert not re.search(r"<style\b|\sstyle\s*=", html, flags=re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)  # nothing from elsewhere
    script = (STATIC / "app.js").read_text()
    assert "eval(" not in script and "new Function" not in script and "setAttribute(\"style\"" not in script


def test_dataset_delete_needs_the_name_and_refuses_a_dataset_in_training(
        client: TestClient, workspace: Path, tmp_path: Path) -> None:
    folder = _make_dataset(workspace, "pets")
    _make_dataset(workspace, "owls")
    assert [d["name"] for d in client.get("/v1/datasets").json()] == ["owls", "pets"]
    unconfirmed = client.delete("/v1/datasets/pets")
    assert unconfirmed.status_code == 400 and "confirm=pets" in unconfirmed.json()["error"]
    assert client.delete("/v1/datasets/pets?confirm=owls").status_code == 400
    assert client.delete("/v1/datasets/pets?confirm=pets", headers={"Origin": "null"}).status_code == 403
    # A training job on it (its process replaced by a record: nothing trains here) blocks the delete.
    jobs = client.app.state.studio.jobs  # type: ignore[attr-defined]
    jobs.start_process = lambda title, target, args: jobs._add("train", title)
    started = client.post("/v1/train", json={"dataset": "pets", "name": "run1", "minutes": 1})
    assert started.status_code == 202, started.text
    assert started.json()["result"]["dataset"] == "pets"
    busy = client.delete("/v1/datasets/pets?confirm=pets")
    assert busy.status_code == 409 and "training job" in busy.json()["error"] and folder.is_dir()
    deleted = client.delete("/v1/datasets/owls?confirm=owls")  # another dataset is free to go
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "owls"}
    jobs.get(started.json()["id"]).update(status="done")
    assert client.delete("/v1/datasets/pets?confirm=pets").json() == {"deleted": "pets"}
    assert client.get("/v1/datasets").json() == [] and not folder.exists()
    assert client.delete("/v1/datasets/pets?confirm=pets").status_code == 404
    # A dataset that is a link leading elsewhere is refused, and nothing behind it is deleted.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    (workspace / "datasets" / "link").symlink_to(elsewhere)
    for url in ("/v1/datasets/link?confirm=link", "/v1/datasets/..%2Fmodels?confirm=../models"):
        assert client.delete(url).status_code in (400, 404), url
    assert (elsewhere / "keep.txt").is_file() and (workspace / "models" / "tiny").is_dir()


def test_dataset_page_offers_a_delete_with_a_typed_confirmation() -> None:
    from muybridge.studio.app import STATIC

    script = (STATIC / "app.js").read_text()
    assert "async function deleteDataset(name)" in script
    body = script.split("async function deleteDataset(name)")[1].split("\n}\n")[0]
    assert "confirmByTyping(" in body and "/v1/datasets/${encodeURIComponent(name)}?confirm=" in body
    assert "onclick: () => deleteDataset(d.name)" in script


def test_former_500s_answer_4xx_with_one_line(client: TestClient) -> None:
    cases = [
        (client.post("/v1/preview", json={"character": f"cat:{10**30}"}), 400, "seeds are 0..2147483647"),
        (client.get("/v1/outputs/images%00.png"), 400, "control character"),
        (client.get("/v1/outputs/images%0a.png"), 400, "control character"),
        (client.post("/v1/generate", json={"class": "cat", "seed": True}), 422, "seed: "),
        (client.post("/v1/generate", json={"class": "cat", "n": True}), 422, "n: "),
        (client.post("/v1/generate", json={"class": "cat", "seed": 2**31}), 422, "seed: "),
        (client.post("/v1/generate", json={"class": f"cat:{2**31}"}), 400, "seeds are 0..2147483647"),
        (client.post("/v1/generate", json={"class": "cat:" + "9" * 5000}), 400, "at most 2048"),
        (client.post("/v1/generate", json={"class": "+".join(["c"] * 20_000)}), 400, "at most 64"),
        (client.post("/v1/generate", json={"class": "cat*" + "9" * 400 + "+dog"}), 400, "too large"),
        (client.post("/v1/generate", json={"class": "c" * 5000}), 400, "at most 2048"),
        (client.post("/v1/generate", json={"class": "cat", "n": 64, "size": 1024}), 400, "at most 4,194,304"),
    ]
    for response, status, fragment in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert list(body) == ["error"] and fragment in body["error"] and "\n" not in body["error"], body
    edge = client.post("/v1/generate", json={"class": f"cat:{2**31 - 1}"})
    assert edge.status_code == 200 and edge.headers["x-seed"] == str(2**31 - 1)


def test_parse_key_limits_are_the_clis_too() -> None:
    from muybridge.keys import MAX_MIX_TERMS, MAX_SEED, parse_key

    assert MAX_SEED == 2**31 - 1
    assert parse_key(f"cat:{MAX_SEED}") == ("cat", MAX_SEED)
    assert parse_key("+".join(f"c{i}*1" for i in range(MAX_MIX_TERMS)))[0] == {f"c{i}": 1.0
                                                                              for i in range(MAX_MIX_TERMS)}
    for key, fragment in ((f"cat:{MAX_SEED + 1}", "seeds are 0.."), ("cat:" + "1" * 31, "seeds are 0.."),
                          ("+".join(["cat"] * (MAX_MIX_TERMS + 1)), f"at most {MAX_MIX_TERMS}"),
                          ("cat*1e999", "bad class mix"), ("cat:٣", "seeds are 0..")):
        with pytest.raises(MuybridgeError, match=fragment):
            parse_key(key)


def test_generate_caps_pixels_per_request(workspace: Path) -> None:
    settings = StudioSettings(workspace=workspace, bundled_dir=None, max_generate_pixels=4 * 32 * 32)
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        assert client.post("/v1/generate", json={"class": "cat", "n": 4}).status_code == 200
        native = client.post("/v1/generate", json={"class": "cat", "n": 5})  # 5 at the model's 32 px
        assert native.status_code == 400 and "at most 4,096" in native.json()["error"]
        small = client.post("/v1/generate", json={"class": "cat", "n": 5, "size": 16})  # rendered at 32 px
        assert small.status_code == 400


def test_queued_jobs_are_capped_in_pixels() -> None:
    jobs = JobManager(max_pending=8, max_queued_pixels=100)
    release = threading.Event()
    try:
        first = jobs.submit("animate", "a", lambda job: release.wait(30) and None, pixels=80)
        with pytest.raises(Busy, match="render 80 pixels and this one 30"):
            jobs.submit("animate", "b", lambda job: None, pixels=30)
        second = jobs.submit("animate", "c", lambda job: None, pixels=20)  # fits beside the first
    finally:
        release.set()
    assert jobs.wait(first.id, 30).status == jobs.wait(second.id, 30).status == "done"
    assert jobs.submit("animate", "d", lambda job: None, pixels=500).pixels == 500  # alone, it may queue


def test_an_animation_job_counts_the_pixels_it_renders(client: TestClient) -> None:
    body = {"mode": "loop", "characters": ["cat:1"], "frames": 6, "fps": 6, "size": 48, "grid": "2x1"}
    job = client.post("/v1/animate", json=body)
    assert job.status_code == 202, job.text
    assert job.json()["pixels"] == 6 * 2 * 48 * 48


def test_api_docs_are_served_from_the_package(client: TestClient) -> None:
    import base64
    import hashlib
    import re

    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""", page.text)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "cdn" not in page.text and "http" not in page.text.replace("http-equiv", "")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").headers["content-type"].startswith(
        ("application/javascript", "text/javascript"))
    assert client.get("/static/vendor/swagger-ui/swagger-ui.css").headers["content-type"].startswith("text/css")
    # Its inline start-up script runs under the page's policy because the policy names its hash.
    inline = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
    policy = page.headers["content-security-policy"]
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    from muybridge.studio.app import STATIC

    vendor = STATIC / "vendor" / "swagger-ui"
    assert (vendor / "LICENSE").is_file() and "Apache License" in (vendor / "LICENSE").read_text()
    assert "5.35.0" in (vendor / "SOURCE.md").read_text()
    assert client.get("/redoc").status_code == 404


@pytest.mark.parametrize("size", ["-1", "100000", "7"])
def test_an_absurd_dataset_size_is_refused_before_a_job(client: TestClient, workspace: Path, size: str) -> None:
    refused = client.post("/v1/datasets", data={"name": "odd", "size": size},
                          files=[("files", ("a.png", b"x", "image/png"))])
    assert refused.status_code == 400 and "size" in refused.json()["error"]
    assert client.get("/v1/jobs").json() == [] and not (workspace / "datasets" / "odd").exists()
