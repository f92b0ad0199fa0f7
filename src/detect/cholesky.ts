// Dense symmetric positive-definite solves on row-major Float64Arrays (d ≤ a few dozen).
//
// Σ = L Lᵀ (Cholesky); Σ y = b is solved as L z = b (forward) then Lᵀ y = z (backward), which is
// cheaper and more stable than forming Σ⁻¹. The factor is computed once per baseline update and
// reused for every window scored against it.

/** The lower-triangular Cholesky factor of the d×d matrix `a`, or null when `a` is not positive definite. */
export function cholesky(a: Float64Array, d: number): Float64Array | null {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i += 1) {
    for (let j = 0; j <= i; j += 1) {
      let sum = a[i * d + j]!;
      for (let k = 0; k < j; k += 1) sum -= l[i * d + k]! * l[j * d + k]!;
      if (i === j) {
        if (!(sum > 0)) return null;
        l[i * d + i] = Math.sqrt(sum);
      } else {
        l[i * d + j] = sum / l[j * d + j]!;
      }
    }
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
