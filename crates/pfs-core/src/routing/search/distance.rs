//! Path lengths ([`Distance`]): the edges with an undefined fee weight first, then the exact sum
//! of the finite weights, packed into one integer (see "Order" in the `search` module docs).

/// A path length: edges with undefined fee first, then the exact sum of the finite weights in
/// units of 2^-52, packed into one `u128` (the count in the top 16 bits, the sum in the low 112;
/// both saturate, which only totals beyond 2^60 could reach), so comparing lengths is comparing
/// integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Distance(u128);

const UNITS_BITS: u32 = 112;
const UNITS_MAX: u128 = (1 << UNITS_BITS) - 1;

impl Distance {
    fn parts(self) -> (u128, u128) {
        (self.0 >> UNITS_BITS, self.0 & UNITS_MAX)
    }

    /// The number of edges with an undefined fee weight.
    pub(super) fn undefined_edges(self) -> u128 {
        self.parts().0
    }

    pub(super) fn from_parts(undefined: u128, units: u128) -> Self {
        Self((undefined.min(0xFFFF) << UNITS_BITS) | units.min(UNITS_MAX))
    }

    /// The length of one edge of `weight` (the reference's `f64`, at least 1, or `+inf`).
    pub(crate) fn of_weight(weight: f64) -> Self {
        if weight.is_infinite() || weight.is_nan() {
            return Self::from_parts(1, 0);
        }
        // weight >= 1 is a multiple of 2^-52, so this product is an exact integer.
        let scaled = weight * (1u64 << 52) as f64;
        let units = if scaled >= UNITS_MAX as f64 { UNITS_MAX } else { scaled as u128 };
        Self::from_parts(0, units)
    }

    /// A lower bound for `steps` more units of weight 1 (each edge weighs at least 1).
    pub(crate) fn of_hops(steps: u32) -> Self {
        Self::from_parts(0, u128::from(steps) << 52)
    }

    pub(crate) fn plus(self, other: Self) -> Self {
        let (left_undefined, left_units) = self.parts();
        let (right_undefined, right_units) = other.parts();
        Self::from_parts(left_undefined + right_undefined, left_units.saturating_add(right_units))
    }
}
