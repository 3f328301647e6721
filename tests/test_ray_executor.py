"""``--executor ray``: the same datasets as the local process pool, on a real two-node Ray cluster
started by the tests on this machine (a head and a worker node, one CPU each)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from atdkit import schema
from helpers import REPO, run_atdkit, shared

NODE_OPTIONS = (
    "--num-cpus",
    "1",
    "--node-ip-address",
    "127.0.0.1",
    "--object-store-memory",
    "200000000",
    "--disable-usage-stats",
)

pytestmark = pytest.mark.slow  # a real two-node Ray cluster


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ray_command(*args: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("ray")) if Path(sys.executable).with_name("ray").exists() else "ray",
        *args,
    ]


@pytest.fixture(scope="module")
def ray_cluster():
    """The address of a Ray cluster of two nodes with one CPU each, with token authentication
    (the token in the environment, which every command of these tests inherits). Each node is a
    ``ray start --block`` process, stopped by its pid when the tests are done (``ray stop`` would
    stop every Ray on this machine, not only these two)."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("RAY_AUTH_MODE", "token")
        environment.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        pytest.importorskip("ray", reason="Ray is not installed (pip install 'atdkit[ray]')")
        yield from two_node_cluster()


def two_node_cluster():
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes = []

    def start(*args: str) -> None:
        nodes.append(
            subprocess.Popen(
                ray_command("start", "--block", *args, *NODE_OPTIONS),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    try:
        start("--head", "--port", str(port), "--include-dashboard=false")
        wait_for_cpus(address, 1, nodes)
        start("--address", address)
        wait_for_cpus(address, 2, nodes)
        yield address
    finally:
        for node in reversed(nodes):
            node.terminate()
        for node in nodes:
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
        latest = Path(
            "/tmp/ray/ray_current_cluster"
        )  # where `ray.init()` looks for a running cluster: not this one now
        if latest.is_file() and latest.read_text().strip().endswith(f":{port}"):
            latest.unlink()


def wait_for_cpus(address: str, cpus: int, nodes: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert all(node.poll() is None for node in nodes), "a Ray node did not start"
        status = subprocess.run(ray_command("status", "--address", address), capture_output=True, text=True)
        if f"/{cpus}.0 CPU" in status.stdout:
            return
        time.sleep(0.5)
    raise AssertionError(f"the Ray cluster at {address} did not reach {cpus} CPUs:\n{status.stdout}\n{status.stderr}")


def rows(dataset: Path, table: str = "triplets.parquet") -> list[dict]:
    return pq.read_table(dataset / table).to_pylist()


def sources(dataset: Path) -> list[dict]:
    """sources.parquet without the timing, and with the damage as a set: FFmpeg's threads log it
    in an order of their own."""
    found = pq.read_table(dataset / "sources.parquet", schema=schema.SOURCES).to_pylist()
    for row in found:
        row.pop("scan_seconds")
        row["error"] = set((row["error"] or "").split("; "))
    return found


def assert_same_dataset(left: Path, right: Path) -> None:
    assert rows(left) == rows(right)
    assert sources(left) == sources(right)
    frames = sorted(p.relative_to(left) for p in (left / "frames").rglob("*.png"))
    assert frames == sorted(p.relative_to(right) for p in (right / "frames").rglob("*.png"))
    assert all((left / f).read_bytes() == (right / f).read_bytes() for f in frames)
    assert not list(right.rglob(".tmp-*")), "temporaries of killed workers are swept"


@pytest.fixture(scope="module")
def films(synth_clip) -> list[Path]:
    return [*sorted(shared("clips").iterdir()), synth_clip[0]]


@pytest.fixture(scope="module")
def local_dataset(films, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "dataset"
    result = run_atdkit("extract", "--videos", *films, "--out", out, "--workers", "2")
    assert result.returncode == 0, result.stderr
    return out


def extract_on_ray(address: str, films: list[Path], out: Path, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "atdkit",
        "extract",
        "--executor",
        "ray",
        "--ray-address",
        address,
        "--videos",
        *map(str, films),
        "--out",
        str(out),
        *options,
    ]


def test_ray_extraction_equals_the_local_one_and_reports_each_node(ray_cluster, films, local_dataset, tmp_path):
    result = subprocess.run(
        extract_on_ray(ray_cluster, films, tmp_path / "ray"), capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert_same_dataset(local_dataset, tmp_path / "ray")
    summary = result.stderr[result.stderr.index("per node") :]
    assert len({line.split("(")[1][:8] for line in summary.splitlines() if "(" in line}) == 2, summary


def unit_processes() -> dict[int, str]:
    """Ray workers running an atdkit unit now (Ray titles a worker ``ray::<task name>``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, ValueError):
            continue
        if title.startswith("ray::atdkit "):
            found[int(entry.name)] = title
    return found


def test_a_worker_killed_mid_film_is_retried_and_the_rows_are_the_same(ray_cluster, films, local_dataset, tmp_path):
    run = subprocess.Popen(
        extract_on_ray(ray_cluster, films, tmp_path / "ray"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    killed = None
    while killed is None and run.poll() is None:
        for pid, title in unit_processes().items():
            os.kill(pid, signal.SIGKILL)
            killed = title
            break
        time.sleep(0.01)
    _, stderr = run.communicate(timeout=300)
    assert killed, "no unit was seen running"
    assert run.returncode == 0 and "error:" not in stderr, stderr
    assert_same_dataset(local_dataset, tmp_path / "ray")


def test_a_split_film_on_ray_equals_the_unsplit_one_and_a_killed_driver_resumes(ray_cluster, tmp_path):
    from atdkit.pipelines.extraction.synth import render_clip

    clip = tmp_path / "long.mp4"
    render_clip(clip, seed=5, size=(320, 180), seconds=40)  # 960 frames, 13 cuts
    assert run_atdkit("extract", "--videos", clip, "--out", tmp_path / "whole", "--workers", "1").returncode == 0

    split = tmp_path / "split"
    driver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "atdkit",
            "extract",
            "--videos",
            str(clip),
            "--out",
            str(split),
            "--workers",
            "1",
            "--split-frames",
            "50",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ranges = split / "cache" / "long" / "ranges"
    while driver.poll() is None and len(list(ranges.glob("*/source.parquet"))) < 3:
        time.sleep(0.005)
    driver.kill()
    driver.wait()
    assert not (split / "cache" / "long" / "source.parquet").exists(), "the driver died before the film was done"

    result = subprocess.run(
        extract_on_ray(ray_cluster, [clip], split, "--split-frames", "50"),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert_same_dataset(tmp_path / "whole", split)
    for table in ("candidates.parquet", "frame_index.parquet"):
        assert rows(tmp_path / "whole", f"cache/long/{table}") == rows(split, f"cache/long/{table}")
    assert not ranges.exists(), "a finished film's range scans are dropped"


def test_stats_on_ray_equal_the_local_ones(ray_cluster, dataset, tmp_path):
    on_ray = tmp_path / "on_ray"
    shutil.copytree(dataset, on_ray)
    assert run_atdkit("stats", dataset, "--workers", "2").returncode == 0
    result = run_atdkit("stats", on_ray, "--executor", "ray", "--ray-address", ray_cluster)
    assert result.returncode == 0, result.stderr
    local, remote = rows(dataset, "motion.parquet"), rows(on_ray, "motion.parquet")
    assert [(r["triplet_id"], r["suggested_difficulty"]) for r in local] == [
        (r["triplet_id"], r["suggested_difficulty"]) for r in remote
    ]
    for row, other in zip(
        local, remote
    ):  # OpenCV's vectorised float32 maths may differ in the last bit between processes
        for column in ("flow_mean", "flow_std", "occlusion_ratio"):
            assert other[column] == pytest.approx(row[column], rel=1e-9)
    assert "per node" in result.stderr and not (on_ray / "stats" / "motion-parts").exists()


def test_a_unit_that_keeps_failing_is_reported_with_its_error_and_the_others_complete(ray_cluster):
    from atdkit.pipelines.executors import RETRIES, ExecutorChoice

    def square(number, progress):
        progress("advance", "square", 1)
        return number * number

    def crash(progress):
        os.kill(os.getpid(), signal.SIGKILL)

    def refuse(progress):
        raise ValueError("not a film")

    events = []
    with ExecutorChoice("ray", ray_address=ray_cluster).open(lambda *event: events.append(event)) as executor:
        executor.submit("crash", crash)
        executor.submit("refuse", refuse)
        for number in range(3):
            executor.submit(f"square {number}", square, number)
        outcomes = {outcome.name: outcome for outcome in executor.results()}
    assert {outcomes[f"square {n}"].value for n in range(3)} == {0, 1, 4}
    assert outcomes["crash"].failed and outcomes["crash"].error.startswith(f"failed {RETRIES + 1} times: ")
    assert outcomes["refuse"].error == "ValueError: not a film"
    assert events.count(("advance", "square", 1)) == 3


def test_without_ray_installed_the_ray_executor_is_one_line_saying_how_to_install_it(tmp_path):
    # A Python without Ray, made from this one: a ray.py that raises ImportError, first on the
    # path, is what `import ray` finds, exactly as when Ray is not installed.
    (tmp_path / "ray.py").write_text("raise ImportError('No module named ray')\n")
    environment = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for command in (
        ["extract", "--videos", str(tmp_path), "--out", str(tmp_path / "out"), "--executor", "ray"],
        ["stats", str(tmp_path / "dataset"), "--executor", "ray"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "atdkit", *command], capture_output=True, text=True, cwd=REPO, env=environment
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"atdkit {command[0]}: error: --executor ray needs Ray, which is not installed here: "
            "pip install 'atdkit[ray]'"
        ]
    assert not (tmp_path / "out").exists()
