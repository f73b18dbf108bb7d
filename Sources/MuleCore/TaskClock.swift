/// Event time of one detect task (one partition of the legs topic), from the markers that share
/// the partition with the legs and links.
///
/// Two kinds of marker arrive, each after the records it covers (a producer keeps the order of
/// what it sends to one partition):
/// - a **route marker** from the route stage of input partition `i`: every leg of `i` still to
///   come has event time ≥ `watermark` (the route stage drops, as late, events behind its
///   partition's newest event time minus the allowed lateness). An *idle* marker releases `i`
///   (it delivers nothing for now), exactly as an idle input partition is released in a single
///   instance.
/// - a **task marker** from detect task `q`: every link `q` will still send has delivery time
///   ≥ its `floor` + link delay.
///
/// The task applies what it holds up to `bound`: the legs (route markers) and links (task
/// markers) below it have all arrived, so the result does not depend on arrival order or
/// timing. It then advertises `floor(pending:)` to every other task. A task's floor includes
/// what it may still receive, so links that cause links (a hop that makes a gang tie elsewhere)
/// are covered; each exchange of markers moves event time forward by at most the link delay when
/// tasks wait on each other (and not at all when they do not). Before a task has heard from a
/// peer, the peer is assumed at `earliest`: the lowest event time any input partition can still
/// deliver (the lowest event time routed from it), below which nothing can ever be applied
/// anywhere.
public struct TaskClock: Sendable, Equatable {
    public let partition: Int32
    public let partitions: Int32
    public let linkDelayMillis: Int64
    /// Per input partition: its route watermark (`Int64.min` before its first marker), whether
    /// it is released as idle, its newest event time, and the lowest event time routed from it
    /// (`Int64.min` until it routed one).
    public private(set) var inputs: [InputMark] = []
    /// Per legs partition: the floor its task last advertised (`nil` before its first marker).
    public private(set) var peers: [Int64?]

    public struct InputMark: Sendable, Equatable {
        public var watermark: Int64 = .min
        public var first: Int64 = .min
        public var newest: Int64 = .min
        public var idle = false
        public var heard = false

        public init(watermark: Int64 = .min, first: Int64 = .min, newest: Int64 = .min, idle: Bool = false, heard: Bool = false) {
            self.watermark = watermark
            self.first = first
            self.newest = newest
            self.idle = idle
            self.heard = heard
        }
    }

    public init(partition: Int32, partitions: Int32, linkDelayMillis: Int64) {
        self.partition = partition
        self.partitions = partitions
        self.linkDelayMillis = linkDelayMillis
        self.peers = Array(repeating: nil, count: Int(partitions))
    }

    mutating func restore(inputs: [InputMark], peers: [Int64?]) {
        self.inputs = inputs
        self.peers = peers
    }

    /// A route marker: input partition `input` of `inputCount`. Watermarks only move forward
    /// (a route stage that restarted may repeat older ones).
    /// `lowest`: the lowest event time the route stage has sent from it (`Int64.max`: none yet).
    public mutating func routeMarker(input: Int32, of inputCount: Int32, watermark: Int64, newest: Int64, lowest: Int64, idle: Bool) {
        if inputs.count < Int(inputCount) { inputs.append(contentsOf: repeatElement(InputMark(), count: Int(inputCount) - inputs.count)) }
        guard input >= 0 && Int(input) < inputs.count else { return }
        var m = inputs[Int(input)]
        m.heard = true
        if lowest != .max && (m.first == .min || lowest < m.first) { m.first = lowest }
        m.watermark = max(m.watermark, watermark)
        m.newest = max(m.newest, newest)
        m.idle = idle
        inputs[Int(input)] = m
    }

    /// A task marker from legs partition `from`.
    public mutating func taskMarker(from: Int32, floor: Int64) {
        guard from >= 0 && from < partitions, from != partition else { return }
        peers[Int(from)] = max(peers[Int(from)] ?? .min, floor)
    }

    /// Every leg still to come has event time ≥ this. All inputs idle (caught up and quiet):
    /// past the newest event, so what is buffered is applied (as an idle flush does).
    public var routeBound: Int64 {
        // An input never heard from holds everything (it may deliver its first events any time).
        guard !inputs.isEmpty, inputs.allSatisfy(\.heard) else { return .min }
        var low = Int64.max
        var newest = Int64.min
        for m in inputs {
            newest = max(newest, m.newest)
            if !m.idle { low = min(low, m.watermark) }
        }
        if low == .max { return newest == .min ? .min : newest &+ 1 }
        return low
    }

    /// Lowest event time anything can still be applied at anywhere (see the type's notes).
    public var earliest: Int64 {
        var low = Int64.max
        for m in inputs where m.heard && m.first != .min { low = min(low, m.first) }
        return low == .max ? .min : low
    }

    /// Links still to arrive are delivered at or after this.
    public var linkBound: Int64 {
        let e = earliest
        if e == .min { return .min }
        var low = Int64.max
        for q in 0..<Int(partitions) where q != Int(partition) { low = min(low, peers[q] ?? e) }
        if low == .max { return .max }  // a single partition: nobody sends links
        return max(low, e) &+ linkDelayMillis
    }

    /// How far the task may apply: everything before it has arrived.
    public var bound: Int64 { min(routeBound, linkBound) }

    /// What the task advertises after applying up to `bound`: `pending` is the detector's
    /// `pendingFloor` (its earliest held transfer or link).
    public func floor(pending: Int64) -> Int64 {
        min(bound, pending)
    }
}
