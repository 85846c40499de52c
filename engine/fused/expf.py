"""e^x for a float32 array inside a compiled kernel, in SIMD.

A numba loop that calls ``math.exp`` calls the C library once per number, which LLVM cannot
turn into vector code: on these machines 10-30 ns a number, so the σ of a digit-net mini-batch
of 100 (4,000 numbers) or the GELU of a GPT-2 token (37,000 tanh a token) cost more than all
the rest of their kernels. numpy's exp is SIMD, but using it means leaving the kernel and
coming back. So :func:`exp_float32` computes exp the way the C library does, in two loops LLVM
vectorizes:

* the reduction (Cody and Waite): e^v = 2^k · e^r, with k = v·log₂e rounded to a whole number
  and r = v − k·ln 2, so |r| ≤ ln2/2. r is taken in float64: ``fastmath`` may reorder float32
  arithmetic, and the two-part ln 2 that keeps the subtraction exact in float32 would not
  survive that;
* e^r = 1 + r + r²·P(r), with P the degree-5 polynomial of Cephes' expf, within an ulp or two;
* 2^k is a float whose bit pattern has k + 127 in its exponent field: written as int32 in the
  first loop and read through a float32 view of the same bytes in the second.

v is clamped to ±87 first, so e^v is always a normal float32 (1.6e-38 .. 6.1e37), never 0 or
inf: the callers (σ, tanh) then saturate exactly as they would with the true value.
``tests/test_network.py`` and ``tests/test_fused_decode.py`` hold σ and GELU to float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

jit = njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz", "arcp"})


@jit
def exp_float32(a):
    """a ← e^a in place, ``a`` a 1-D float32 array."""
    one = np.float32(1)
    bits = np.empty(a.size, np.int32)
    for i in range(a.size):
        v = min(max(a[i], np.float32(-87.0)), np.float32(87.0))
        k = np.int32(v * np.float32(1.4426950408889634) + np.float32(126.5))  # k + 126 > 0: truncation floors
        kf = np.float32(k) - np.float32(126)
        r = np.float32(np.float64(v) - np.float64(kf) * 0.6931471805599453)
        p = ((((np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)) * r
               + np.float32(8.3334519073e-3)) * r + np.float32(4.1665795894e-2)) * r
             + np.float32(1.6666665459e-1)) * r + np.float32(5.0000001201e-1)
        a[i] = p * (r * r) + r + one  # e^r
        bits[i] = (k + 1) << 23  # 2^(k − 126): biased exponent (k − 126) + 127
    two_k = bits.view(np.float32)
    for i in range(a.size):
        a[i] *= two_k[i]
