//! Options that pick some of a fixed set by name (`--only a,b`).

/// The items of `all` that `list` names (comma-separated, each as `name` spells it), in
/// the list's order; an error naming `option` and the first unknown name.
pub(crate) fn named<T: Copy>(
    option: &str,
    list: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<Vec<T>, String> {
    list.split(',')
        .map(|wanted| {
            all.iter()
                .copied()
                .find(|&item| name(item) == wanted.trim())
                .ok_or_else(|| format!("{option}: unknown name {wanted:?}"))
        })
        .collect()
}
