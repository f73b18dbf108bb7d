/// "Did you mean …?" for misspelt keys and names.
package enum Suggestion {
    /// The known word closest to `word` within edit distance 2 (ties go to the earlier word in
    /// `known`); failing that, a known word `word` abbreviates (`pass_thru` → `pass_through`).
    package static func closest(to word: String, in known: [String]) -> String? {
        // Long hostile keys would make the distance table large for no useful suggestion.
        guard word.count <= 64 else { return nil }
        let typed = Array(word.unicodeScalars)
        var best: (word: String, distance: Int)?
        for candidate in known {
            let d = distance(typed, Array(candidate.unicodeScalars))
            if d <= 2, d < (best?.distance ?? Int.max) { best = (candidate, d) }
        }
        if let best { return best.word }
        return known.first { isAbbreviation(typed, of: Array($0.unicodeScalars)) }
    }

    /// `word` keeps the first letter and, in order, at least half of the letters of `full`:
    /// how people shorten names (`pass_thru`, `dist_payers`, `cntrparty_kind`).
    static func isAbbreviation(_ word: [Unicode.Scalar], of full: [Unicode.Scalar]) -> Bool {
        guard word.count >= 4, word.count * 2 >= full.count, word.first == full.first else { return false }
        var i = 0
        for c in full where i < word.count && word[i] == c { i += 1 }
        return i == word.count
    }

    /// Levenshtein distance (insertions, deletions, substitutions).
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
