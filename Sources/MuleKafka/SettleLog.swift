/// Which of a producer's messages are settled (acknowledged by the broker, or failed for good),
/// by sequence number: the first message accepted is 1, the next 2, and so on.
///
/// `settledThrough` is the highest `n` such that every message up to `n` is settled. It lets a
/// caller wait for the messages sent *before* a point, not for all messages: the engine notes
/// `sent` when it takes a commit's offsets and commits once `settledThrough` reaches it, while
/// later alerts are still on their way. Waiting for an empty queue instead never ends while
/// alerts keep coming (measured: a periodic commit overdue after a second at 10 k events/s).
///
/// A ring of flags for the messages after `settledThrough`; it grows to the most messages ever
/// unsettled at once (bounded by librdkafka's `queue.buffering.max.messages`) and then no longer
/// allocates.
struct SettleLog {
    /// Sequence number of the last message accepted (0: none yet).
    private(set) var sent: UInt64 = 0
    /// Every message with a sequence number up to this is settled.
    private(set) var settledThrough: UInt64 = 0
    /// `done[(head + i) & mask]` tells whether message `settledThrough + 1 + i` is settled.
    private var done: [Bool] = Array(repeating: false, count: 64)
    private var head = 0

    /// The sequence number the next accepted message gets.
    var next: UInt64 { sent &+ 1 }

    /// Notes that message `next` was accepted.
    mutating func accept() {
        if Int(sent - settledThrough) == done.count { grow() }
        sent &+= 1
    }

    /// Notes that message `sequence` is settled. Unknown numbers (0, not yet sent, already
    /// settled) are ignored.
    mutating func settle(_ sequence: UInt64) {
        guard sequence > settledThrough, sequence <= sent else { return }
        let mask = done.count - 1
        done[(head + Int(sequence - settledThrough - 1)) & mask] = true
        while settledThrough < sent, done[head] {
            done[head] = false
            head = (head + 1) & mask
            settledThrough &+= 1
        }
    }

    /// Doubles the ring, keeping the flags in sequence order from index 0.
    private mutating func grow() {
        let old = done
        let count = old.count
        done = Array(repeating: false, count: count * 2)
        for i in 0..<count { done[i] = old[(head + i) & (count - 1)] }
        head = 0
    }
}
