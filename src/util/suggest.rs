//! "Did you mean …?" for a mistyped name: the closest candidate by edit distance.

/// The candidate closest to `word`, if it is close enough to be a likely typo
/// (at most a third of the word's length in edits, and at least one).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, with an adjacent swap counted as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["command", "container_name", "image", "environment", "ports"];

    #[test]
    fn a_dropped_letter_finds_the_key() {
        assert_eq!(closest("comand", KEYS.iter().copied()), Some("command"));
        assert_eq!(
            closest("enviroment", KEYS.iter().copied()),
            Some("environment")
        );
    }

    #[test]
    fn a_swap_is_one_edit() {
        assert_eq!(closest("imgae", KEYS.iter().copied()), Some("image"));
    }

    #[test]
    fn nothing_close_suggests_nothing() {
        assert_eq!(closest("flavour", KEYS.iter().copied()), None);
        assert_eq!(closest("x", KEYS.iter().copied()), None);
    }
}
