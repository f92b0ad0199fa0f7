#!/usr/bin/env python3
"""Recomputes agentwatch audit hash chains (chain version 2) from an export, without agentwatch.

Usage: python3 recompute-chain.py export.ndjson
The export is GET /v1/audit/export?format=chain (NDJSON, one stored row per line). For every
topic-partition, rows are put in offset order and each one's hash is recomputed as
    SHA-256(prev_hash as its hex text || RowBinary(hashed columns))
and compared with the stored hash; each row must name the row before it (prev_offset, prev_hash).
Prints one line per partition; exits 1 at the first broken row. Version-1 rows (chain_version 1)
are counted and anchored on, not recomputed: `agentwatch verify` checks them.
"""
import base64, hashlib, json, struct, sys
from collections import defaultdict


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def string(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return varint(len(b)) + b


def row_bytes(r):
    b64 = base64.b64decode
    out = [string(r["topic"]), struct.pack("<I", int(r["partition"])), struct.pack("<Q", int(r["offset"])),
           struct.pack("<q", int(r["prev_offset"])), struct.pack("<q", int(r["ts"])), string(b64(r["key_base64"])),
           varint(len(r["headers_base64"]))]
    out += [string(name) + string(b64(value)) for name, value in r["headers_base64"]]
    for column in ("producer", "capability", "workflow_id", "task_id", "message_id", "context_id", "rpc_id",
                   "method", "step", "kind", "state", "error_type"):
        out.append(string(r[column]))
    out += [struct.pack("<H", int(r["attempt"])), struct.pack("<I", int(r["payload_bytes"])), string(r["encoding"]),
            struct.pack("<q", int(r["schema_id"])), string(r["parse_error"]), string(r["dlq_reason"]),
            string(b64(r["payload_base64"])), string(r["payload_encoding"])]
    return b"".join(out)


def main(path):
    partitions = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                partitions[(r["topic"], int(r["partition"]))].append(r)
    ok = True
    for (topic, partition), rows in sorted(partitions.items()):
        rows.sort(key=lambda r: int(r["offset"]))
        problem, prev, version1 = None, None, 0
        for r in rows:
            if prev is not None and r["prev_offset"] != prev["offset"]:
                problem = f"row {r['offset']} follows offset {r['prev_offset']}, but the row before it is {prev['offset']}"
            elif prev is not None and r["prev_hash"] != prev["hash"]:
                problem = f"row {r['offset']} does not name the hash of row {prev['offset']}"
            elif int(r["chain_version"]) < 2:
                version1 += 1
            else:
                digest = hashlib.sha256(r["prev_hash"].encode("ascii") + row_bytes(r)).hexdigest()
                if digest != r["hash"]:
                    problem = f"row {r['offset']} does not match its hash"
            if problem:
                break
            prev = r
        print(json.dumps({"topic": topic, "partition": partition, "rows": len(rows), "version1_rows": version1,
                          "first": rows[0]["offset"], "last": rows[-1]["offset"], "ok": problem is None,
                          "problem": problem}))
        ok = ok and problem is None
        if problem:
            break
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
