//! Tally: which outcomes the inputs reach (close causes, protocol errors, handshake results,
//! send errors), for checking what a corpus covers. Costs a map update per outcome. The
//! outcomes are counted by the targets; nothing here checks anything.

thread_local! {
    static TALLY: std::cell::RefCell<std::collections::BTreeMap<String, u64>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

/// Count one outcome, named by its `Debug` form up to the first `(`, `{` or space.
pub(crate) fn tally(prefix: &str, what: &dyn std::fmt::Debug) {
    let mut name = format!("{what:?}");
    if let Some(cut) = name.find(['(', '{', ' ']) {
        name.truncate(cut);
    }
    TALLY.with(|t| *t.borrow_mut().entry(format!("{prefix}{name}")).or_default() += 1);
}

/// The outcomes counted on this thread since the last call (close causes, protocol errors,
/// handshake results, send errors), for checking what a corpus reaches.
pub fn take_tally() -> Vec<(String, u64)> {
    TALLY.with(|t| core::mem::take(&mut *t.borrow_mut()).into_iter().collect())
}
