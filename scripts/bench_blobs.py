"""Blob store benchmark: upload and read back one large blob through the local store and
the S3 store, printing throughput and the peak RSS of this process (the blob is never
held in memory whole: the peak stays around one multipart part, not the blob size).

    python scripts/bench_blobs.py --mib 512            # S3: an S3 server in a subprocess
    python scripts/bench_blobs.py --mib 512 --endpoint http://minio:9000 --bucket b

With no --endpoint an S3 wire-protocol server (moto) runs in a child process, so its
own memory (it keeps objects in RAM) is not counted here.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rokuon.store.blobs import LocalBlobStore  # noqa: E402
from rokuon.store.blobs_s3 import S3BlobStore, make_client  # noqa: E402
from rokuon.store.keys import LocalKeyFileProvider  # noqa: E402

MIB = 1024 * 1024


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def _source(total_mib: int, digest: hashlib._Hash) -> Iterator[bytes]:
    block = os.urandom(MIB)
    for i in range(total_mib):
        chunk = block[i % 251:] + block[:i % 251]
        digest.update(chunk)
        yield chunk


def _serve(port_q: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port_q.put(server.get_host_and_port()[1])
    while True:
        time.sleep(3600)


def _bench(name: str, store: LocalBlobStore | S3BlobStore, mib: int) -> dict[str, float]:
    want = hashlib.sha256()
    before = _current_rss_mib()
    t0 = time.perf_counter()
    blob = store.put_stream("bench/blob", _source(mib, want))
    t_put = time.perf_counter() - t0
    assert blob.sha256 == want.hexdigest()
    got = hashlib.sha256()
    t0 = time.perf_counter()
    with store.open("bench/blob", blob.wrapped_key) as r:
        while data := r.read(MIB):
            got.update(data)
    t_get = time.perf_counter() - t0
    assert got.hexdigest() == want.hexdigest(), "read back differs"
    t0 = time.perf_counter()
    with store.open("bench/blob", blob.wrapped_key) as r:  # playback-style seeks
        for i in range(20):
            r.seek((i * 7919 * 4096) % (mib * MIB - 65536))
            r.read(65536)
    t_seek = (time.perf_counter() - t0) / 20
    store.delete("bench/blob")
    res = {"MiB": mib, "put_MiB_s": mib / t_put, "get_MiB_s": mib / t_get,
           "seek_read_64k_ms": t_seek * 1000, "rss_before_MiB": before,
           "peak_rss_MiB": _rss_mib()}
    print(f"{name:6} " + "  ".join(f"{k}={v:.1f}" for k, v in res.items()), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mib", type=int, default=256, help="blob size in MiB")
    ap.add_argument("--endpoint", default="", help="S3 endpoint (default: a local moto)")
    ap.add_argument("--bucket", default="", help="existing bucket (with --endpoint)")
    ap.add_argument("--skip-local", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys = LocalKeyFileProvider.create(Path(tmp) / "kek.json")
        if not args.skip_local:
            _bench("local", LocalBlobStore(Path(tmp) / "blobs", keys), args.mib)
        proc = None
        endpoint = args.endpoint
        if not endpoint:
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
            q: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
            proc = multiprocessing.Process(target=_serve, args=(q,), daemon=True)
            proc.start()
            endpoint = f"http://127.0.0.1:{q.get(timeout=30)}"
        client = make_client(endpoint_url=endpoint)
        bucket = args.bucket or f"rokuon-bench-{secrets.token_hex(4)}"
        if not args.bucket:
            client.create_bucket(Bucket=bucket)
        try:
            _bench("s3", S3BlobStore(f"s3://{bucket}/bench", keys, client=client), args.mib)
        finally:
            if not args.bucket:
                client.delete_bucket(Bucket=bucket)
            if proc is not None:
                proc.terminate()
                proc.join(5)


if __name__ == "__main__":
    main()
