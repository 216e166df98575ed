#!/usr/bin/env python3
"""Reads a GGUF file's header with the standard library only.

  gguf-info.py FILE            lists the metadata (non-array keys with their values; arrays
                               with their length and first 5 items) and the tensors of
                               block 0 and outside the blocks (name, shape, ggml type)
  gguf-info.py --check FILE    checks that FILE parses as GGUF: magic, version, every key and
                               tensor record, and that all tensor data lies inside the file;
                               prints nothing on success, a reason and exit status 1 otherwise
"""
import struct
import sys

# ggml type id -> (name, elements per block, bytes per block)
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
}
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
TYPE_NAMES = {0: "u8", 1: "i8", 2: "u16", 3: "i16", 4: "u32", 5: "i32", 6: "f32", 7: "bool",
              8: "string", 9: "array", 10: "u64", 11: "i64", 12: "f64"}


class GGUFError(Exception):
    pass


class Reader:
    def __init__(self, f, size):
        self.f, self.size = f, size

    def read(self, n):
        b = self.f.read(n)
        if len(b) != n:
            raise GGUFError(f"truncated at offset {self.f.tell()}: wanted {n} bytes")
        return b

    def scalar(self, fmt):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.scalar("<Q")
        if n > self.size:
            raise GGUFError(f"string length {n} exceeds the file size")
        return self.read(n).decode("utf-8", errors="replace")

    def value(self, t, keep=True):
        """keep=False: skip the value (arrays: return their length and first 5 items)."""
        if t in SCALARS:
            return self.scalar(SCALARS[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.scalar("<I"), self.scalar("<Q")
            if et not in SCALARS and et != 8:
                raise GGUFError(f"array of unsupported type {et}")
            if et in SCALARS:
                width = struct.calcsize(SCALARS[et])
                if n * width > self.size:
                    raise GGUFError(f"array length {n} exceeds the file size")
                head = [self.value(et) for _ in range(min(n, 5))]
                self.f.seek((n - len(head)) * width, 1)
            else:
                head = [self.value(et) for _ in range(n)][:5]
            return ("array", TYPE_NAMES[et], n, head)
        raise GGUFError(f"unknown metadata value type {t}")


def parse(path):
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(0)
        r = Reader(f, size)
        if r.read(4) != b"GGUF":
            raise GGUFError("bad magic (not a GGUF file)")
        version = r.scalar("<I")
        if version not in (2, 3):
            raise GGUFError(f"unsupported GGUF version {version}")
        n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
        meta = []
        for _ in range(n_kv):
            key = r.string()
            t = r.scalar("<I")
            meta.append((key, TYPE_NAMES.get(t, str(t)), r.value(t)))
        tensors = []
        for _ in range(n_tensors):
            name = r.string()
            nd = r.scalar("<I")
            if nd > 8:
                raise GGUFError(f"tensor {name}: {nd} dimensions")
            dims = [r.scalar("<Q") for _ in range(nd)]
            t = r.scalar("<I")
            off = r.scalar("<Q")
            if t not in GGML_TYPES:
                raise GGUFError(f"tensor {name}: unknown ggml type {t}")
            tensors.append((name, dims, t, off))
        align = next((v for k, _, v in meta if k == "general.alignment"), 32)
        start = (f.tell() + align - 1) // align * align
        for name, dims, t, off in tensors:
            _, blk, nbytes = GGML_TYPES[t]
            n = 1
            for d in dims:
                n *= d
            if n % blk:
                raise GGUFError(f"tensor {name}: {n} elements not a multiple of block {blk}")
            end = start + off + n // blk * nbytes
            if off % align or end > size:
                raise GGUFError(f"tensor {name}: data [{start + off}, {end}) outside the file ({size} bytes)")
        return version, meta, tensors, size


def show(v):
    if isinstance(v, tuple) and v[0] == "array":
        _, et, n, head = v
        return f"[{et}; {n}] first {len(head)}: {head!r}"
    return repr(v)


def main(argv):
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    if len(paths) != 1:
        sys.exit(__doc__)
    try:
        version, meta, tensors, size = parse(paths[0])
    except (GGUFError, OSError) as e:
        sys.exit(f"{paths[0]}: not a valid GGUF: {e}")
    if check:
        return
    print(f"file: {paths[0]} ({size} bytes), GGUF v{version}, {len(meta)} metadata keys, {len(tensors)} tensors")
    print("metadata:")
    for k, t, v in meta:
        print(f"  {k} ({t}) = {show(v)}")
    print("tensors (block 0 and non-block; shapes in GGUF order, ne0 first):")
    for name, dims, t, _ in tensors:
        if name.startswith("blk.") and not name.startswith("blk.0."):
            continue
        print(f"  {name:40s} {str(dims):22s} {GGML_TYPES[t][0]}")
    counts = {}
    for _, _, t, _ in tensors:
        counts[GGML_TYPES[t][0]] = counts.get(GGML_TYPES[t][0], 0) + 1
    print("tensor types overall:", ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main(sys.argv[1:])
