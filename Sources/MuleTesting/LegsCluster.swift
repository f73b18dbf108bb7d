import MuleCore

/// The scale-out data flow without Kafka: route stages for each input partition and a
/// `DetectTask` per legs partition, exchanging records through in-memory logs (one per legs
/// partition, appended in order like a Kafka partition) under a seeded random schedule. Tasks
/// can be crashed and restored from a snapshot, replaying their log from the snapshot's offset.
/// Tests use it to show that the result does not depend on timing, schedule or restarts.
public struct LegsCluster {
    public struct Options: Sendable {
        public var inputPartitions = 3
        public var legsPartitions = 4
        public var linkDelayMillis: Int64 = 1_000
        /// Records a stage handles per turn, at most (each turn takes 1…this).
        public var maxBatch = 64
        /// Chance per detect turn that the task snapshots, and that it crashes and restores its
        /// last snapshot (replaying what followed).
        public var snapshotChance = 0.0
        public var crashChance = 0.0
        /// Crashes in one run, at most (each replays the task's log since its snapshot).
        public var maxCrashes = 12
        public init() {}
    }

    public struct Outcome: Sendable {
        /// Every alert published, repeats included (a restored task repeats what followed its snapshot).
        public var alerts: [Alert] = []
        public var lateAtRoute = 0
        public var deadLettered: [String] = []
        public var crashes = 0
        public var records = 0
        public var links = 0
        public var markers = 0
    }

    let rules: [Rule]
    let config: DetectorConfig
    let options: Options

    public init(rules: [Rule], config: DetectorConfig, options: Options) {
        self.rules = rules
        self.config = config
        self.options = options
    }

    /// Runs `events` (NDJSON lines; line i goes to input partition i % inputPartitions) to the end.
    public func run(events: [[UInt8]], seed: UInt64) -> Outcome {
        var rng = SeededRandom(state: seed)
        let n = Int32(options.legsPartitions)
        let inputs = options.inputPartitions
        let partitioner = LegPartitioner(partitions: n)
        let decoder = EventDecoder()
        var out = Outcome()
        var logs = Array(repeating: [[UInt8]](), count: Int(n))
        var inputLines = Array(repeating: [[UInt8]](), count: inputs)
        for (i, line) in events.enumerated() { inputLines[i % inputs].append(line) }
        var inputCursor = Array(repeating: 0, count: inputs)
        var idleSent = Array(repeating: false, count: inputs)
        var router = LegRouter(partitioner: partitioner, latenessMillis: config.allowedLatenessMillis)
        func scope(_ p: Int32) -> DetectorScope { DetectorScope(partition: p, partitioner: partitioner, linkDelayMillis: options.linkDelayMillis) }
        var tasks = (0..<n).map { DetectTask(rules: rules, config: config, scope: scope($0)) }
        var cursor = Array(repeating: 0, count: Int(n))
        var snapshots: [(state: [UInt8], cursor: Int)?] = Array(repeating: nil, count: Int(n))

        func append(_ value: [UInt8], to p: Int32, except: Int32 = -1) {
            if p >= 0 {
                logs[Int(p)].append(value)
            } else {
                for q in 0..<Int(n) where q != Int(except) { logs[q].append(value) }
            }
        }

        func routeTurn(_ i: Int) {
            let take = 1 + Int(rng.next() % UInt64(options.maxBatch))
            var k = 0
            while k < take && inputCursor[i] < inputLines[i].count {
                let line = inputLines[i][inputCursor[i]]
                inputCursor[i] += 1
                k += 1
                line.withUnsafeBytes { bytes in
                    guard let t = try? decoder.decode(bytes) else {
                        out.deadLettered.append("decode")
                        return
                    }
                    switch router.route(t, in: bytes, input: Int32(i)) {
                    case .late: out.lateAtRoute += 1
                    case .together(let p): append([LegSides.both.tag] + line, to: p)
                    case .apart(let payee, let payer):
                        append([LegSides.credit.tag] + line, to: payee)
                        append([LegSides.debit.tag] + line, to: payer)
                    }
                }
            }
            let done = inputCursor[i] == inputLines[i].count
            if done { idleSent[i] = true }
            let m = router.marker(input: Int32(i), of: Int32(inputs), idle: done)
            append(m.encode(), to: -1)
            out.markers += 1
        }

        func detectTurn(_ q: Int) {
            let take = 1 + Int(rng.next() % UInt64(options.maxBatch))
            var k = 0
            while k < take && cursor[q] < logs[q].count {
                let record = logs[q][cursor[q]]
                let offset = Int64(cursor[q])
                cursor[q] += 1
                k += 1
                out.records += 1
                let r = record.withUnsafeBytes { tasks[q].receive($0, position: SourcePosition(partition: Int32(q), offset: offset)) }
                switch r {
                case .malformed(let why): out.deadLettered.append(why)
                case .legs(.late): out.deadLettered.append("late")
                default: break
                }
            }
            let floor = tasks[q].advance()
            for l in tasks[q].takeLinks() {
                append(l.value, to: l.partition, except: Int32(q))
                out.links += 1
            }
            out.alerts += tasks[q].takeAlerts()
            if let floor {
                append(LegsMarker.task(partition: Int32(q), floor: floor).encode(), to: -1, except: Int32(q))
                out.markers += 1
            }
            // Snapshots are taken between turns, when links and alerts are handed over.
            if options.snapshotChance > 0, Double(rng.next() % 1_000_000) / 1e6 < options.snapshotChance {
                snapshots[q] = (tasks[q].checkpointState(), cursor[q])
            }
            if options.crashChance > 0, out.crashes < options.maxCrashes,
               Double(rng.next() % 1_000_000) / 1e6 < options.crashChance {
                out.crashes += 1
                if let s = snapshots[q] {
                    tasks[q] = try! DetectTask(rules: rules, config: config, scope: scope(Int32(q)), restoring: s.state)
                    cursor[q] = s.cursor
                } else {
                    tasks[q] = DetectTask(rules: rules, config: config, scope: scope(Int32(q)))
                    cursor[q] = 0
                }
            }
        }

        var turns = 0
        while true {
            turns += 1
            precondition(turns < 50_000_000, "the cluster does not converge")
            let routeLeft = (0..<inputs).filter { !idleSent[$0] }
            let detectLeft = (0..<Int(n)).filter { cursor[$0] < logs[$0].count }
            if routeLeft.isEmpty && detectLeft.isEmpty { break }
            let pick = Int(rng.next() % UInt64(routeLeft.count + detectLeft.count))
            if pick < routeLeft.count { routeTurn(routeLeft[pick]) } else { detectTurn(detectLeft[pick - routeLeft.count]) }
        }
        return out
    }
}
