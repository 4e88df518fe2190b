"""Bounded-memory summaries of a column seen in batches. numpy only; callers import lazily.

- `QuantileSketch`: exact while it holds at most `capacity` values; beyond, a deterministic
  compactor (the idea of KLL/MRL sketches): a full level is sorted and every other value moves up
  one level with twice the weight. Each compaction at level h moves any rank by at most 2**h, and
  the sketch adds those up, so `rank_error` is a proven bound, not an estimate. With the default
  capacity of 32,768 and 1,000,000 values it is about 0.0001 (0.01% of the ranks).
- `DistinctCounter`: K minimum values of a 64-bit hash. Exact while fewer than k distinct values
  were seen (the kept hashes are then all of them); beyond, (k-1)/(k-th smallest hash), whose
  relative standard error is about 1/sqrt(k) (0.8% for k = 16,384).
- `FrequentItems`: exact counts while at most `capacity` distinct values were seen; beyond, the
  weighted Misra-Gries summary, whose counts are low by at most `error`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    FloatArray = npt.NDArray[np.float64]
    HashArray = npt.NDArray[np.uint64]
    IntArray = npt.NDArray[np.int64]

QUANTILE_CAPACITY = 32_768
DISTINCT_K = 16_384
FREQUENT_CAPACITY = 10_000


class QuantileSketch:
    def __init__(self, capacity: int = QUANTILE_CAPACITY) -> None:
        self.capacity = capacity
        self.count = 0
        self._levels: list[list[FloatArray]] = []
        self._sizes: list[int] = []
        self._error = 0  # sum of the weights of all compactions: the rank error bound
        self._flip = 0  # alternate which half survives, so compactions do not all lean one way

    def add(self, values: FloatArray) -> None:
        """Add finite values (NaN and infinities must have been removed)."""
        self.count += len(values)
        # Pieces of at most `capacity`: sorting costs n log n, so a level-0 compaction of one
        # capacity's worth at a time is cheaper than sorting a big batch whole.
        for start in range(0, len(values), self.capacity):
            self._push(0, values[start:start + self.capacity])

    def _push(self, level: int, values: FloatArray) -> None:
        if level == len(self._levels):
            self._levels.append([])
            self._sizes.append(0)
        self._levels[level].append(values)
        self._sizes[level] += len(values)
        if self._sizes[level] > self.capacity:
            self._compact(level)

    def _compact(self, level: int) -> None:
        import numpy as np

        # Above level 0 the input is a few sorted runs, which timsort ("stable") merges in about
        # linear time; level 0 gets raw batches, where the default introsort is faster.
        ordered = np.sort(np.concatenate(self._levels[level]), kind="stable" if level else None)
        keep = ordered[len(ordered) - len(ordered) % 2:]  # an odd one out stays, at its weight
        ordered = ordered[: len(ordered) - len(keep)]
        self._levels[level] = [keep] if len(keep) else []
        self._sizes[level] = len(keep)
        self._error += 2**level
        self._flip ^= 1
        self._push(level + 1, ordered[self._flip::2])

    @property
    def exact(self) -> bool:
        return self._error == 0

    @property
    def rank_error(self) -> float:
        return self._error / self.count if self.count else 0.0

    def weighted(self) -> tuple[FloatArray, FloatArray]:
        """All kept values, sorted, and the number of input values each one stands for."""
        import numpy as np

        values, weights = [np.empty(0)], [np.empty(0)]
        for level, chunks in enumerate(self._levels):
            for chunk in chunks:
                values.append(chunk)
                weights.append(np.full(len(chunk), float(2**level)))
        flat, flat_weights = np.concatenate(values), np.concatenate(weights)
        order = np.argsort(flat, kind="stable")
        return flat[order], flat_weights[order]

    def summary(self, center: float) -> tuple[list[float], list[float]]:
        """101 quantiles (numpy's linear method when exact) and the 100 percentile-bin means."""
        import numpy as np

        values, weights = self.weighted()
        total = weights.sum()
        ends = np.cumsum(weights)
        # Rank (0-based) at the middle of each value's block; for unit weights simply 0..n-1.
        positions = ends - (weights + 1) / 2
        ranks = np.linspace(0.0, 1.0, 101) * (total - 1)
        quantiles = np.interp(ranks, positions, values)
        # The quantile function as a step function of u in (0, 1]; its running integral is
        # piecewise linear. Centering first keeps the differences precise for large offsets.
        integral = np.concatenate(([0.0], np.cumsum((values - center) * weights) / total))
        cuts = np.interp(np.linspace(0.0, 1.0, 101), np.concatenate(([0.0], ends / total)), integral)
        bin_means = np.diff(cuts) * 100 + center
        return quantiles.tolist(), bin_means.tolist()


class DistinctCounter:
    def __init__(self, k: int = DISTINCT_K) -> None:
        import numpy as np

        self.k = k
        self._hashes: HashArray = np.empty(0, dtype=np.uint64)  # sorted, unique, at most k
        # Candidates not yet merged: merging (a sort) only when they outnumber k keeps the cost
        # per batch at one comparison per value; the kept set is the same as merging every time.
        self._pending: list[HashArray] = []
        self._pending_size = 0

    def add(self, hashes: HashArray) -> None:
        if len(self._hashes) >= self.k:
            hashes = hashes[hashes < self._hashes[-1]]  # most values cannot enter: skip the sort
        if len(hashes):
            self._pending.append(hashes)
            self._pending_size += len(hashes)
            if self._pending_size > self.k:
                self._merge()

    def _merge(self) -> None:
        import numpy as np

        if self._pending:
            self._hashes = smallest_unique(np.concatenate([self._hashes, *self._pending]), self.k)
            self._pending, self._pending_size = [], 0

    @property
    def exact(self) -> bool:
        self._merge()
        return len(self._hashes) < self.k

    def estimate(self) -> int:
        if self.exact:
            return len(self._hashes)
        return round((self.k - 1) / (float(self._hashes[-1]) / 2.0**64))


class FrequentItems:
    """Kept as Arrow strings and numpy counts: merging a batch is one group-by, not a Python loop."""

    def __init__(self, capacity: int = FREQUENT_CAPACITY) -> None:
        import numpy as np

        self.capacity = capacity
        self.values: pa.Array | None = None  # distinct, large_string
        self.counts: IntArray = np.empty(0, dtype=np.int64)
        self.error = 0

    def add(self, values: pa.Array, counts: IntArray) -> None:
        """VALUES: distinct valid strings; COUNTS: how often each occurred."""
        import numpy as np
        import pyarrow as pa

        values = values.cast(pa.large_string())
        if self.values is not None:  # sum the counts of equal values: a dictionary encoding groups them
            encoded = pa.concat_arrays([self.values, values]).dictionary_encode()
            codes = encoded.indices.to_numpy()
            weights = np.concatenate((self.counts, counts))
            counts = np.bincount(codes, weights=weights, minlength=len(encoded.dictionary))
            values, counts = encoded.dictionary, counts.astype(np.int64)
        if len(counts) > self.capacity:  # Misra-Gries: lower all by the (capacity+1)-th largest count
            cut = int(np.partition(counts, len(counts) - self.capacity - 1)[len(counts) - self.capacity - 1])
            kept = counts > cut
            self.error += cut
            values, counts = values.filter(pa.array(kept)), counts[kept] - cut
        self.values, self.counts = values, np.asarray(counts, dtype=np.int64)

    def top(self, k: int) -> list[tuple[str, int]]:
        """The K most frequent, ties by value (byte order of UTF-8 is code point order, as in Python)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.values is None:
            return []
        table = pa.table({"v": self.values, "c": self.counts})
        order = pc.sort_indices(table, sort_keys=[("c", "descending"), ("v", "ascending")])
        first = table.take(order[:k])
        return list(zip(first["v"].to_pylist(), first["c"].to_pylist(), strict=True))


def sorted_unique(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """np.unique by sorting: numpy 2's hash-based unique is several times slower on 64-bit keys."""
    import numpy as np

    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def smallest_unique(values: npt.NDArray[Any], k: int) -> npt.NDArray[Any]:
    """The k smallest distinct VALUES, sorted. A partition first, so only about k values are sorted."""
    import numpy as np

    if len(values) > 2 * k:
        cut = np.partition(values, k)[k]
        head = sorted_unique(values[values <= cut])
        if len(head) >= k:  # else duplicates hid some of the k smallest: sort them all below
            return head[:k]
    return sorted_unique(values)[:k]


def sorted_counts(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """The distinct values, sorted, and how often each occurs."""
    import numpy as np

    ordered = np.sort(values)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


def mix64(bits: HashArray) -> HashArray:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash of 64-bit keys (wraps on purpose)."""
    import numpy as np

    x = bits + np.uint64(0x9E3779B97F4A7C15)  # a new array: the rest works in place on it
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def hash_strings(values: pa.Array) -> HashArray:
    """A stable (unsalted, unlike `hash()`) 64-bit hash of each string of an Arrow string array
    without nulls: a polynomial hash of its bytes (mod 2**64) finished by mix64, computed on
    Arrow's buffers without making Python strings. Slices of about 1 MB bound the memory."""
    import numpy as np
    import pyarrow as pa

    values = values.cast(pa.large_string())  # 64-bit offsets: one code path
    total = max(1, values.nbytes)
    rows = max(1, len(values) * _HASH_SLICE_BYTES // total)
    parts = [_hash_slice(values.slice(start, rows)) for start in range(0, len(values), rows)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)


_HASH_SLICE_BYTES = 1 << 20
_HASH_BASE = 0x100000001B3  # FNV's 64-bit prime: odd, so no byte's weight vanishes mod 2**64


def _hash_slice(values: pa.Array) -> HashArray:
    import numpy as np

    count = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset:values.offset + count + 1]
    data_buffer = values.buffers()[2]
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            else np.empty(0, dtype=np.uint8))[offsets[0]:offsets[-1]]
    lengths = np.diff(offsets)
    starts = offsets[:-1] - offsets[0]
    sums = np.zeros(count, dtype=np.uint64)
    if len(data):
        # Byte j of a string weighs base**j; (byte + 1) so that zero bytes count too.
        base = np.full(int(lengths.max()) - 1, _HASH_BASE, dtype=np.uint64)
        powers = np.concatenate((np.ones(1, dtype=np.uint64), np.cumprod(base)))  # wraps mod 2**64
        relative = np.arange(len(data)) - np.repeat(starts, lengths)
        terms = (data.astype(np.uint64) + np.uint64(1)) * powers[relative]
        filled = lengths > 0
        sums[filled] = np.add.reduceat(terms, starts[filled])
    return mix64(sums ^ mix64(lengths.astype(np.uint64)))
