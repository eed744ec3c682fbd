"""Build Bluesky repository exports (CARv1 files of an atproto repo) for the tests, so a client's
reader meets real bytes: a commit block pointing at a Merkle Search Tree whose leaves are the
records, all DAG-CBOR, each block named by its CID."""

from __future__ import annotations

import hashlib
import time

import libipld

_CID_PREFIX = bytes([0x01, 0x71, 0x12, 0x20])
"""CIDv1, DAG-CBOR codec, sha2-256 multihash of 32 bytes: how atproto names every block."""

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def tid(micros: int | None = None, clock_id: int = 0) -> str:
    """A timestamp identifier (13 characters, sorts as it was made): atproto's rkeys and revs."""
    micros = time.time_ns() // 1000 if micros is None else micros
    value = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def block_cid(data: bytes) -> bytes:
    """The binary CID of a DAG-CBOR block, as links and CAR sections carry it."""
    return _CID_PREFIX + hashlib.sha256(data).digest()


def record_cid(record: dict) -> str:
    """The string CID a PDS, the AppView and Jetstream give a record."""
    return libipld.encode_cid(block_cid(libipld.encode_dag_cbor(record)))


def build_repo_car(did: str, records: list[tuple[str, str, dict]], *, rev: str | None = None) -> bytes:
    """The CAR of a repo holding these (collection, rkey, record) entries: header rooted at the
    commit, then the commit, the MST nodes (parents before children) and the records."""
    leaves = sorted(((f"{collection}/{rkey}".encode("ascii"), record) for collection, rkey, record in records), key=lambda leaf: leaf[0])
    for before, after in zip(leaves, leaves[1:]):
        if before[0] == after[0]:
            raise ValueError(f"two records share the key {before[0].decode()}")
    record_blocks = [libipld.encode_dag_cbor(record) for _, record in leaves]
    root, node_blocks = mst_blocks([(key, block_cid(data)) for (key, _), data in zip(leaves, record_blocks)])
    commit = _commit_block(did, root, rev or tid())
    blocks = [commit, *node_blocks, *((block_cid(data), data) for data in record_blocks)]
    header = libipld.encode_dag_cbor({"version": 1, "roots": [commit[0]]})
    sections = [_varint(len(header)), header]
    for cid, data in blocks:
        sections += [_varint(len(cid) + len(data)), cid, data]
    return b"".join(sections)


def mst_blocks(leaves: list[tuple[bytes, bytes]]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The Merkle Search Tree over sorted (key, value CID) leaves: its root CID and its node
    blocks (CID, bytes), parents before children."""
    entries = [(key, value, _layer(key)) for key, value in leaves]
    blocks: list[tuple[bytes, bytes]] = []
    root = _mst_node(entries, max((layer for _, _, layer in entries), default=0), blocks)
    return root, blocks[::-1]


def truncated(car: bytes) -> bytes:
    """The same CAR cut off halfway through its last block: a download that broke off."""
    length, position = _read_varint(car, 0)
    position += length
    last_start = position
    while position < len(car):
        last_start = position
        length, position = _read_varint(car, position)
        position += length
    return car[: (last_start + len(car)) // 2]


def _layer(key: bytes) -> int:
    """The MST layer of a key: leading zero bits of its SHA-256, counted in pairs (fanout 4)."""
    zeros = 0
    for byte in hashlib.sha256(key).digest():
        if byte == 0:
            zeros += 4
            continue
        zeros += (byte < 64) + (byte < 16) + (byte < 4)
        break
    return zeros


def _mst_node(entries: list[tuple[bytes, bytes, int]], layer: int, blocks: list[tuple[bytes, bytes]]) -> bytes:
    """Write the node holding the keys of this layer, with the lower keys between them as
    subtrees one layer down; returns its CID. Keys are prefix-compressed against the previous
    key of the same node."""
    left = None
    node_entries: list[dict] = []
    below: list[tuple[bytes, bytes, int]] = []
    previous = b""

    def subtree() -> bytes | None:
        return _mst_node(below, layer - 1, blocks) if below else None

    for key, value, key_layer in entries:
        if key_layer < layer:
            below.append((key, value, key_layer))
            continue
        if node_entries:
            node_entries[-1]["t"] = subtree()
        else:
            left = subtree()
        below = []
        shared = _shared_prefix(previous, key)
        node_entries.append({"p": shared, "k": key[shared:], "v": value, "t": None})
        previous = key
    if node_entries:
        node_entries[-1]["t"] = subtree()
    else:
        left = subtree()
    data = libipld.encode_dag_cbor({"l": left, "e": node_entries})
    cid = block_cid(data)
    blocks.append((cid, data))
    return cid


def _commit_block(did: str, data: bytes, rev: str) -> tuple[bytes, bytes]:
    """A version-3 commit with a 64-byte signature-shaped field. libipld writes any byte string
    that begins like a CID as a link, so the digest is re-hashed until it encodes as plain bytes."""
    unsigned = {"did": did, "version": 3, "data": data, "rev": rev, "prev": None}
    sig = hashlib.sha512(libipld.encode_dag_cbor(unsigned)).digest()
    while libipld.encode_dag_cbor(sig)[:2] != b"\x58\x40":
        sig = hashlib.sha512(sig).digest()
    encoded = libipld.encode_dag_cbor({**unsigned, "sig": sig})
    return block_cid(encoded), encoded


def _shared_prefix(a: bytes, b: bytes) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position
