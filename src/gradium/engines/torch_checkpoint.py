"""Read the tensors of a legacy (pre-zip) PyTorch checkpoint into NumPy arrays, without torch.

Resemblyzer's GE2E weights ship as such a file. Installing torch for a 17 MB, three-layer LSTM
would add gigabytes to every install, so this reads the format directly: a few pickles (magic
number, protocol version, system info), the pickled object whose tensors refer to storages by key,
the list of storage keys, then each storage's element count (int64) followed by its raw bytes.
Only float storages and plain strided tensors are understood; anything else is refused, and the
unpickler resolves no class outside a short allow-list, so the file cannot run code.
"""

from __future__ import annotations

import collections
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001
_STORAGE_DTYPES = {"FloatStorage": np.dtype("<f4"), "DoubleStorage": np.dtype("<f8")}


class CheckpointError(ValueError):
    """The file is not a legacy PyTorch checkpoint this reader understands."""


@dataclass
class _StorageRef:
    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _StorageRef, offset: int, shape: tuple[int, ...], stride: tuple[int, ...],
                    *_rest: object) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        if name not in _STORAGE_DTYPES:
            raise CheckpointError(f"unsupported storage type torch.{name}")
        self.dtype = _STORAGE_DTYPES[name]


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        raise CheckpointError(f"the checkpoint refers to {module}.{name}, which this reader refuses")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel, _view = pid
        return _StorageRef(str(key), storage_type.dtype, int(numel))


def _tensor_refs(obj: Any, prefix: str = "") -> dict[str, _TensorRef]:
    if isinstance(obj, _TensorRef):
        return {prefix: obj}
    refs: dict[str, _TensorRef] = {}
    if isinstance(obj, dict):
        for name, value in obj.items():
            refs.update(_tensor_refs(value, f"{prefix}.{name}" if prefix else str(name)))
    return refs


def _read_storages(
    handle: IO[bytes], keys: list[str], dtypes: dict[str, np.dtype[Any]]
) -> dict[str, NDArray[Any]]:
    storages: dict[str, NDArray[Any]] = {}
    for key in keys:
        numel = int(np.frombuffer(handle.read(8), "<i8")[0])
        dtype = dtypes[key]
        data = handle.read(numel * dtype.itemsize)
        if len(data) != numel * dtype.itemsize:
            raise CheckpointError(f"storage {key} is truncated")
        storages[key] = np.frombuffer(data, dtype)
    return storages


def load_legacy_checkpoint(path: Path) -> dict[str, NDArray[np.float32]]:
    """Every tensor of the checkpoint, by dotted name (``model_state.lstm.weight_ih_l0``)."""
    with path.open("rb") as handle:
        try:
            if pickle.load(handle) != _MAGIC or pickle.load(handle) != _PROTOCOL:
                raise CheckpointError(f"{path} is not a legacy PyTorch checkpoint")
            pickle.load(handle)  # system info: little-endian float32 is assumed and checked below
            root = _Unpickler(handle).load()
            keys = [str(k) for k in pickle.load(handle)]
        except (pickle.UnpicklingError, EOFError) as exc:
            raise CheckpointError(f"{path}: {exc}") from exc
        refs = _tensor_refs(root)
        dtypes = {ref.storage.key: ref.storage.dtype for ref in refs.values()}
        storages = _read_storages(handle, keys, dtypes)
    tensors: dict[str, NDArray[np.float32]] = {}
    for name, ref in refs.items():
        flat = storages[ref.storage.key]
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset:], shape=ref.shape, strides=tuple(s * itemsize for s in ref.stride)
        )
        tensors[name] = np.array(view, dtype=np.float32)  # a copy: independent of the storage
    return tensors
