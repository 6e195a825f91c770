"""Run one submission's exercises in a Jupyter kernel and print the outcome as JSON.

Started by :mod:`rnncourse.instructor.grading`, one process per submission, inside its own
temporary folder (and, where Linux allows it, inside new user, mount, network and PID
namespaces: every file system but that folder read-only, no network). Reads the job (JSON) on
stdin, writes one JSON object on stdout; the kernel's own stdout/stderr are discarded, so a
submission cannot write to this channel by printing.

The job: ``{"setup": [source, ...], "exercises": [{"label", "cells": [source, ...],
"checks": [name, ...]}, ...], "cell_timeout": s, "setup_timeout": s, "max_output_bytes": n,
"memory_mb": m}``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

# The self-checks' log variable (rnncourse.selfcheck.GRADE_LOG; a test keeps them equal). Not
# imported from there: selfcheck imports torch, which costs this process seconds per submission
# and which only the kernel needs.
GRADE_LOG = "RNNCOURSE_GRADE_LOG"

# nbformat imports jsonschema, which (with rfc3987-syntax installed, as Jupyter's own
# dependencies do) compiles an Earley grammar for IRIs at import: 1.4 s of CPU per submission
# for a format check the grader never makes. Blocking that optional import leaves jsonschema
# without the "iri" format and everything else unchanged.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def _read_only_everything_but(folder: Path) -> list[str]:
    """In a fresh mount namespace: bind ``folder`` onto itself, remount every other mount
    read-only. Returns the mount points that could not be made read-only."""
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failed = []
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in dict.fromkeys(mounts):
        point = point.replace("\\040", " ")
        if point == str(folder) or point.startswith(("/proc", "/sys")):
            continue
        done = subprocess.run(["mount", "-o", "remount,bind,ro", point],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if done.returncode != 0 and os.access(point, os.W_OK):
            failed.append(point)
    return failed


def _loopback_up() -> None:
    """Bring up ``lo`` in a fresh network namespace (the kernel talks to us over 127.0.0.1)."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)  # struct ifreq: name, flags, padding
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def _outcome(entries: list[dict[str, Any]], checks: list[str], error: str | None
             ) -> dict[str, str]:
    """Status and message of one exercise from its self-check log entries and cell error."""
    mine = {e["check"]: e for e in entries if e.get("check") in checks}
    if not mine:
        if error:
            return {"status": "error", "message": f"{error} (the self-check did not run)"}
        return {"status": "failed", "message": "the self-check was not called: keep the "
                "check call at the end of the exercise's cell"}
    results = list(mine.values())
    if all(not e["attempted"] for e in results):
        return {"status": "not attempted", "message": "not implemented yet"}
    if all(e["passed"] for e in results):
        return {"status": "passed", "message": "correct"}
    failed = [e for e in results if not e["passed"]]
    return {"status": "failed", "message": "; ".join(str(e["message"]) for e in failed)}


def _client_class() -> type:
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """A NotebookClient that keeps at most ``max_output_bytes`` of output per cell
        (errors are always kept), so a submission that prints gigabytes cannot fill memory."""

        max_output_bytes = 100_000

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
            if msg["msg_type"] != "error":
                size = sum(len(json.dumps(o)) for o in outs)
                if size + len(json.dumps(msg["content"])) > self.max_output_bytes:
                    return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _cell_error(cell: Any, timeout: float) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            if out.get("ename") == "KeyboardInterrupt":  # nbclient interrupts on timeout
                return f"the cell ran longer than the time limit of {timeout:g} s"
            return f"{out.get('ename')}: {str(out.get('evalue'))[:300]}"
    return None


def run(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    import nbformat
    from nbclient.exceptions import DeadKernelError

    client_class = _client_class()
    client_class.max_output_bytes = int(job.get("max_output_bytes", 100_000))
    log = folder / "checks.jsonl"
    env = {"HOME": folder, "TMPDIR": folder / "tmp", "JUPYTER_RUNTIME_DIR": folder / "runtime",
           "IPYTHONDIR": folder / "ipython", "MPLCONFIGDIR": folder / "matplotlib",
           "JUPYTER_DATA_DIR": folder / "data"}
    for path in env.values():
        path.mkdir(exist_ok=True)
    os.environ.update({k: str(v) for k, v in env.items()})
    os.environ.update({GRADE_LOG: str(log), "RNNCOURSE_NO_PROGRESS": "1", "MPLBACKEND": "Agg",
                       "OMP_NUM_THREADS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"})

    timeout = float(job.get("cell_timeout", 60))
    setup_timeout = float(job.get("setup_timeout", 300))  # the chapter's imports, on a busy machine
    results: dict[str, dict[str, str]] = {}
    pending = list(job["exercises"])
    while pending:
        cells = [nbformat.v4.new_code_cell(src, metadata={"setup": True}) for src in job["setup"]]
        plan = []
        for exercise in pending:
            plan.append((exercise, [len(cells) + k for k in range(len(exercise["cells"]))]))
            cells += [nbformat.v4.new_code_cell(src) for src in exercise["cells"]]
        notebook = nbformat.v4.new_notebook(cells=cells)
        client = client_class(
            notebook, timeout=timeout, allow_errors=True, timeout_func=lambda cell: (
                setup_timeout if cell.metadata.get("setup") else timeout),
            interrupt_on_timeout=True, kernel_name="python3", record_timing=False,
            shutdown_kernel="immediate",  # nothing to save: no clean shutdown to wait for
            error_on_timeout={"ename": "TimeoutError", "evalue": "the cell ran longer than "
                              f"the time limit of {timeout:g} s"})
        died = None
        try:
            with client.setup_kernel(cwd=str(folder), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL):
                for i in range(len(job["setup"])):
                    client.execute_cell(cells[i], i)
                    setup_error = _cell_error(cells[i], setup_timeout)
                    if setup_error:
                        return {"error": f"the chapter's set-up cell failed: {setup_error}"}
                for exercise, indices in plan:
                    start = log.stat().st_size if log.exists() else 0
                    error = None
                    try:
                        for i in indices:
                            client.execute_cell(cells[i], i)
                            error = error or _cell_error(cells[i], timeout)
                    except DeadKernelError:
                        died = exercise["label"]
                    entries = []
                    if log.exists():
                        with open(log, encoding="utf-8", errors="replace") as f:
                            f.seek(start)
                            for line in f:
                                try:
                                    entries.append(json.loads(line))
                                except json.JSONDecodeError:
                                    pass
                    if died:
                        results[died] = {"status": "error", "message": "the kernel died while "
                                         "running this exercise (memory limit of "
                                         f"{job.get('memory_mb')} MB, os._exit or a crash)"}
                        break
                    results[exercise["label"]] = _outcome(entries, exercise["checks"], error)
        except DeadKernelError:
            pass
        pending = [e for e in pending if e["label"] not in results]
        if pending and not died:  # the kernel died outside an exercise: give up on the rest
            for exercise in pending:
                results[exercise["label"]] = {"status": "error", "message": "the kernel died"}
            pending = []
    return {"results": results}


def main() -> None:
    folder = Path(sys.argv[sys.argv.index("--folder") + 1]).resolve()
    job = json.loads(sys.stdin.read())
    isolation = "process and temporary folder"
    if "--sandbox" in sys.argv:
        not_read_only = _read_only_everything_but(folder)
        _loopback_up()
        isolation = "namespaces: no network, file systems read-only except the submission's folder"
        if not_read_only:
            isolation += f" (still writable: {', '.join(not_read_only)})"
    limit = int(job.get("memory_mb", 4096)) << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.chdir(folder)
    try:
        outcome = run(job, folder)
    except Exception as exc:  # a grader bug must still produce an answer for this submission
        outcome = {"error": f"the grader failed on this submission: {type(exc).__name__}: {exc}"}
    outcome["isolation"] = isolation
    sys.stdout.write(json.dumps(outcome))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
