"""Xet hashes and xorb bounds, against the reference implementation's vectors and hf_xet itself.

``data/xet_merkle_vectors.json``: the (leaves, xorb hash, file hash) table of xet-core's ``test_correctness``
(``xet_core_structures/src/merklehash/aggregated_hashes.rs``), zero-salt file hashes only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelhub.server.xet import hashing, xorb

from ._xet import make_xorb

VECTORS = json.loads((Path(__file__).parent / "data" / "xet_merkle_vectors.json").read_text())


@pytest.mark.parametrize("leaves,xorb_hash,file_hash", VECTORS, ids=[f"{len(v[0])}-leaves" for v in VECTORS])
def test_merkle_and_file_hash_vectors(leaves, xorb_hash, file_hash) -> None:
    nodes = [(hashing.from_hex(h), n) for h, n in leaves]
    assert hashing.to_hex(hashing.xorb_hash(nodes)) == xorb_hash
    if nodes:
        assert hashing.to_hex(hashing.file_hash(nodes)) == file_hash


def test_hello_world_and_hf_xet_agree(tmp_path: Path) -> None:
    data = b"Hello World!\n"
    c = hashing.chunk_hash(data)
    assert hashing.to_hex(c) == "e11d004e9968f3c8a9179dca907aafe0fc1cbb73f429fe142514db413b6552f6"
    assert hashing.to_hex(hashing.verification_hash([c])) == (
        "c3705f8c9bb7e672bdbfdd15f20e16a2e59c4b3668c112799ca991f931da44db"
    )
    fh = hashing.to_hex(hashing.file_hash([(c, len(data))]))
    assert fh == "26bcb87aa2953ba3b5c282d9581ac5572a4c7481399a64c03cdff89242a9b3f2"
    hf_xet = pytest.importorskip("hf_xet")
    (tmp_path / "h.txt").write_bytes(data)
    [info] = hf_xet.hash_files([str(tmp_path / "h.txt")])
    assert info.hash == fh


def test_a_full_xorb_with_its_record_headers_is_accepted() -> None:
    """64 MiB of content in 1024 stored chunks serializes past 64 MiB (hf_xet sends such xorbs)."""
    chunks = [os.urandom(65536) for _ in range(1024)]
    name, body = make_xorb(chunks)
    assert len(body) > 64 * 2**20
    end, index = xorb.verify(body, hashing.from_hex(name))
    assert end == len(body) and len(index) == 1024
    over, big = make_xorb([*chunks, b"x"])  # one byte past 64 MiB of content
    with pytest.raises(xorb.XorbError, match="limits"):
        xorb.verify(big, hashing.from_hex(over))
