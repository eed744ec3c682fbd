"""The decorator of the per-tick kernels: compiled, cached, and without reference counting.

Numba counts the references to every array a function holds with atomic instructions, and an
inlined helper that takes arrays adds a count and a release per array each time it runs. At
200 agents those atomics were a third of a movement step. The kernels allocate nothing (the
Society owns their scratch) and only borrow arrays that their caller keeps alive, so they run
with numba's runtime off (`_nrt=False`): a kernel that tried to allocate or return a new
array would fail to compile, not misbehave at run time.
"""

from numba import njit

kernel = njit(cache=True, _nrt=False)
