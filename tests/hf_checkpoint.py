"""Reading a Hugging Face checkpoint directory's safetensors shards, for the
loader checks (tests/transformers_gptoss.py, tests/compressed_tensors_check.py)."""

import json


def header(path):
    """The header of a safetensors file, without `__metadata__`."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h


def checkpoint_files(d):
    """The shards of directory `d`: its index's, else every .safetensors."""
    index = d / "model.safetensors.index.json"
    if index.exists():
        return sorted({d / f for f in json.loads(index.read_text())["weight_map"].values()})
    return sorted(d.glob("*.safetensors"))


def layout(d):
    """{name: (dtype, shape)} over every shard of checkpoint directory `d`."""
    out = {}
    for f in checkpoint_files(d):
        for k, v in header(f).items():
            out[k] = (v["dtype"], list(v["shape"]))
    return out


def tensors(d):
    """{name: torch tensor} over every shard of `d` (needs torch)."""
    from safetensors.torch import load_file

    out = {}
    for f in checkpoint_files(d):
        out.update(load_file(str(f)))
    return out
