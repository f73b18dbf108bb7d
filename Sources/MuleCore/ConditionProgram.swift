/// A rule's condition trees compiled once into one flat array, so evaluating them per event
/// walks contiguous plain values instead of an `indirect enum` with arrays (no retain/release,
/// no pointer chasing). A tree is stored in prefix order; every op records the size of its
/// subtree so `all`/`any` can step from child to child and short-circuit.
@usableFromInline
struct ConditionProgram: Sendable {
    @usableFromInline
    enum Kind: UInt8, Sendable { case all, any, not, metric }

    /// The metric an op reads (`Metric` without its payload; `burst`'s width is in the op).
    @usableFromInline
    enum Slot: UInt8, Sendable {
        case inCount, inAmount, distinctPayers, outCount, outAmount, distinctPayees
        case passThrough, dwellMedian, dwellP90, retained, burst, accountAge
        case chainDepth, chainPayers, gangSize
    }

    @usableFromInline
    struct Op: Sendable {
        @usableFromInline var kind: Kind
        @usableFromInline var slot: Slot
        /// Ops in this subtree, itself included.
        @usableFromInline var size: Int32
        @usableFromInline var burstWidth: Int64
        /// Inclusive bounds; an absent bound is -∞/+∞, which accepts every non-NaN value exactly
        /// as `Bound.contains` does.
        @usableFromInline var min: Double
        @usableFromInline var max: Double
    }

    @usableFromInline var ops = ContiguousArray<Op>()

    @usableFromInline init() {}

    /// Appends `c` and returns the index of its root op.
    mutating func compile(_ c: Condition) -> Int32 {
        let root = ops.count
        emit(c)
        return Int32(root)
    }

    private mutating func emit(_ c: Condition) {
        let at = ops.count
        switch c {
        case .all(let cs), .any(let cs):
            ops.append(Op(kind: c.isAll ? .all : .any, slot: .inCount, size: 1, burstWidth: 0, min: 0, max: 0))
            // Cheapest first: `all` stops at the first false child and `any` at the first true
            // one, and every metric is a pure function of the window, so the order changes no
            // result, only how often FIFO matching and dwell sorting run.
            for x in cs.enumerated().sorted(by: { ($0.element.cost, $0.offset) < ($1.element.cost, $1.offset) }) {
                emit(x.element)
            }
        case .not(let x):
            ops.append(Op(kind: .not, slot: .inCount, size: 1, burstWidth: 0, min: 0, max: 0))
            emit(x)
        case .metric(let m, let b):
            var width: Int64 = 0
            let slot: Slot
            switch m {
            case .inCount: slot = .inCount
            case .inAmount: slot = .inAmount
            case .distinctPayers: slot = .distinctPayers
            case .outCount: slot = .outCount
            case .outAmount: slot = .outAmount
            case .distinctPayees: slot = .distinctPayees
            case .passThrough: slot = .passThrough
            case .dwellMedian: slot = .dwellMedian
            case .dwellP90: slot = .dwellP90
            case .retained: slot = .retained
            case .burst(let w): slot = .burst; width = w
            case .accountAge: slot = .accountAge
            case .chainDepth: slot = .chainDepth
            case .chainPayers: slot = .chainPayers
            case .gangSize: slot = .gangSize
            }
            ops.append(Op(kind: .metric, slot: slot, size: 1, burstWidth: width,
                          min: b.min ?? -.infinity, max: b.max ?? .infinity))
        }
        ops[at].size = Int32(ops.count - at)
    }
}

extension Condition {
    fileprivate var isAll: Bool { if case .all = self { true } else { false } }

    /// How much evaluating the condition may cost once the window is scanned: 0 for metrics the
    /// scan already holds, 1 for `burst` (a pass over credit times), 2 for `pass_through` (FIFO
    /// matching), 3 for a dwell quantile (matching and a sort); a tree costs its dearest metric.
    var cost: Int {
        switch self {
        case .all(let cs), .any(let cs): cs.map(\.cost).max() ?? 0
        case .not(let c): c.cost
        case .metric(let m, _):
            switch m {
            case .burst: 1
            case .passThrough: 2
            case .dwellMedian, .dwellP90: 3
            default: 0
            }
        }
    }
}
