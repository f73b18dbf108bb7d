import Logging
import MuleCore
import MuleEngine
import MuleKafka
import Testing

/// `run --app-id` refuses what it cannot honour, with every reason at once, before touching Kafka.
@Suite struct ScaleOutEngineTests {
    static func config() -> EngineConfig {
        var kc = KafkaConfig()
        kc.set("bootstrap.servers", "127.0.0.1:9")
        kc.set("group.id", "g")
        return EngineConfig(kafka: kc, inputTopic: "in", outputTopic: "out")
    }

    func problems(_ config: EngineConfig, _ scale: ScaleOutConfig) -> [String] {
        do {
            _ = try ScaleOutEngine(config: config, scale: scale, rules: [], logger: Logger(label: "test"))
            return []
        } catch EngineError.invalidConfiguration(let p) {
            return p
        } catch {
            return ["unexpected: \(error)"]
        }
    }

    @Test func refusesWhatScaleOutDoesNotDo() {
        var c = Self.config()
        c.exactlyOnce = true
        c.detector.latePolicy = .process
        c.snoozeTopic = "snoozes"
        c.checkpointDir = "/tmp/x"
        let p = problems(c, ScaleOutConfig(appId: "app"))
        #expect(p.contains { $0.contains("--exactly-once is not available with --app-id") }, "\(p)")
        #expect(p.contains { $0.contains("late events can only be dropped") }, "\(p)")
        #expect(p.contains { $0.contains("--snooze-topic is not available") }, "\(p)")
        #expect(p.contains { $0.contains("--checkpoint-dir is not used with --app-id") }, "\(p)")
    }

    @Test func checksItsOwnSettingsAndTopicNames() {
        var s = ScaleOutConfig(appId: "bad id!")
        s.legsPartitions = 0
        s.linkDelayMillis = 0
        var c = Self.config()
        c.outputTopic = "bad id!-legs"
        let p = problems(c, s)
        #expect(p.contains { $0.contains("application id must be non-empty") }, "\(p)")
        #expect(p.contains { $0.contains("legs partitions must be 1–10000") }, "\(p)")
        #expect(p.contains { $0.contains("link delay must be positive") }, "\(p)")
        #expect(p.contains { $0.contains("is internal to application") }, "\(p)")
        #expect(ScaleOutConfig(appId: "fraud.cn-1").legsTopic == "fraud.cn-1-legs")
        #expect(ScaleOutConfig(appId: "fraud.cn-1").stateTopic == "fraud.cn-1-state")
    }
}
