// Dense symmetric positive-definite solves on row-major Float64Arrays (d ≤ a few dozen).
//
// Σ = L Lᵀ (Cholesky); Σ y = b is solved as L z = b (forward) then Lᵀ y = z (backward), which is
// cheaper and more stable than forming Σ⁻¹. The factor is computed once per baseline update and
// reused for every window scored against it.

/**
 * The lower-triangular Cholesky factor of the d×d matrix `a` (into `out`, which may be `a`: each
 * entry is read before it is overwritten), or null when `a` is not positive definite. Only the
 * lower triangle of `out` is written.
 */
export function cholesky(a: Float64Array, d: number, out: Float64Array = new Float64Array(d * d)): Float64Array | null {
  const l = out;
  for (let i = 0; i < d; i += 1) {
    const row = i * d;
    for (let j = 0; j < i; j += 1) {
      const other = j * d;
      let sum = a[row + j]!;
      for (let k = 0; k < j; k += 1) sum -= l[row + k]! * l[other + k]!;
      l[row + j] = sum / l[other + j]!;
    }
    let sum = a[row + i]!;
    for (let k = 0; k < i; k += 1) sum -= l[row + k]! * l[row + k]!;
    if (!(sum > 0)) return null;
    l[row + i] = Math.sqrt(sum);
  }
  return l;
}

/** Solves (L Lᵀ) y = b into `out` (which may be b). */
export function choleskySolve(l: Float64Array, d: number, b: Float64Array, out: Float64Array): Float64Array {
  for (let i = 0; i < d; i += 1) {
    let sum = b[i]!;
    for (let k = 0; k < i; k += 1) sum -= l[i * d + k]! * out[k]!;
    out[i] = sum / l[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i -= 1) {
    let sum = out[i]!;
    for (let k = i + 1; k < d; k += 1) sum -= l[k * d + i]! * out[k]!;
    out[i] = sum / l[i * d + i]!;
  }
  return out;
}
