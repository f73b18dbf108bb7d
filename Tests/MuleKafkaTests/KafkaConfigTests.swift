import Foundation
import Testing
@testable import MuleKafka

@Suite struct KafkaConfigTests {
    @Test func assignmentSplitsAtTheFirstEquals() throws {
        let (key, value) = try KafkaConfig.parseAssignment("sasl.jaas.config=a=b")
        #expect(key == "sasl.jaas.config")
        #expect(value == "a=b")
        let (k2, v2) = try KafkaConfig.parseAssignment(" linger.ms =")
        #expect(k2 == "linger.ms")
        #expect(v2 == "")
    }

    @Test func assignmentWithoutEqualsIsAClearError() {
        #expect(throws: KafkaError.self) { try KafkaConfig.parseAssignment("linger.ms") }
        do {
            _ = try KafkaConfig.parseAssignment("linger.ms")
        } catch let error as KafkaError {
            #expect(error.message.contains("expected key=value"))
            #expect(error.message.contains("linger.ms"))
        } catch { Issue.record("unexpected \(error)") }
        // Something that looks like a secret is not echoed.
        do {
            _ = try KafkaConfig.parseAssignment("sasl.password:hunter2")
        } catch let error as KafkaError {
            #expect(!error.message.contains("hunter2"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: KafkaError.self) { try KafkaConfig.parseAssignment("=value") }
    }

    @Test func laterEntriesWinAndSetReplaces() {
        var config = KafkaConfig([("linger.ms", "5"), ("acks", "1"), ("linger.ms", "10")])
        #expect(config["linger.ms"] == "10")
        config.set("acks", "all")
        #expect(config["acks"] == "all")
        #expect(config.properties.filter { $0.key == "acks" }.count == 1)
        #expect(config["missing"] == nil)
    }

    @Test func propertiesFileAcceptsJavaSyntax() throws {
        let text = """
        # a comment
        ! another comment

          bootstrap.servers = host1:9092,host2:9092
        security.protocol: SASL_SSL
        sasl.jaas.config=org.Example required \\
            username="u";
        empty.value=
        client.id=mule\r
        """
        let path = NSTemporaryDirectory() + uniqueName("props") + ".properties"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let properties = try KafkaConfig.loadProperties(path: path)
        #expect(properties.map(\.0) == ["bootstrap.servers", "security.protocol", "sasl.jaas.config", "empty.value", "client.id"])
        #expect(properties.map(\.1) == ["host1:9092,host2:9092", "SASL_SSL", "org.Example required username=\"u\";", "", "mule"])
    }

    @Test func propertiesErrorsNameFileAndLine() throws {
        #expect(throws: KafkaError.self) { try KafkaConfig.parseProperties("a=1\n# c\njust-a-word\n", origin: "x.properties") }
        do {
            _ = try KafkaConfig.parseProperties("a=1\n# c\njust-a-word\n", origin: "x.properties")
        } catch let error as KafkaError {
            #expect(error.message.hasPrefix("x.properties:3:"))
        } catch { Issue.record("unexpected \(error)") }
        do {
            _ = try KafkaConfig.parseProperties("a=1\n = 2\n", origin: "y")
        } catch let error as KafkaError {
            #expect(error.message.hasPrefix("y:2:"))
            #expect(error.message.contains("empty key"))
        } catch { Issue.record("unexpected \(error)") }
        do {
            _ = try KafkaConfig.loadProperties(path: "/nonexistent/mule.properties")
            Issue.record("expected an error")
        } catch let error as KafkaError {
            #expect(error.message.contains("/nonexistent/mule.properties"))
            #expect(error.message.contains("No such file"))
        }
    }

    @Test func secretsAreRecognisedAndRedacted() {
        for key in ["sasl.password", "ssl.key.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret",
                    "ssl.key.pem", "my.app.Secret", "db.password.file"] {
            #expect(KafkaConfig.isSecret(key), "\(key)")
        }
        for key in ["bootstrap.servers", "sasl.username", "ssl.ca.location", "sasl.mechanism"] {
            #expect(!KafkaConfig.isSecret(key), "\(key)")
        }
        let config = KafkaConfig([("sasl.username", "alice"), ("sasl.password", "hunter2"), ("ssl.key.pem", "-----BEGIN")])
        #expect(config.redactedDescription() == ["sasl.username=alice", "sasl.password=[redacted]", "ssl.key.pem=[redacted]"])
        #expect(config.redactor.scrub("login failed for hunter2 at host") == "login failed for [redacted] at host")
    }

    @Test func rejectedPropertiesGiveClearErrorsWithoutSecrets() {
        // Unknown property with a secret-looking name: named, value not echoed.
        let secretConfig = KafkaConfig([("bootstrap.servers", "127.0.0.1:1"), ("no.such.secret", "hunter2")])
        do {
            _ = try KafkaProducer(config: secretConfig)
            Issue.record("expected an error")
        } catch let error as KafkaError {
            #expect(error.message.contains("unknown librdkafka property \"no.such.secret\""))
            #expect(!error.message.contains("hunter2"))
            #expect(error.code == KafkaError.Code.invalidArgument)
        } catch { Issue.record("unexpected \(error)") }

        // Invalid value of an ordinary property: named, with librdkafka's reason.
        do {
            _ = try KafkaProducer(config: KafkaConfig([("linger.ms", "soon")]))
            Issue.record("expected an error")
        } catch let error as KafkaError {
            #expect(error.message.contains("invalid value for librdkafka property \"linger.ms\""))
        } catch { Issue.record("unexpected \(error)") }

        // librdkafka's own text quotes the value: for a secret key it is scrubbed.
        let message = KafkaConfig.sanitizedConfError(
            "Invalid value \"hunter2\" for configuration property \"sasl.password\"",
            key: "sasl.password", value: "hunter2", unknown: false, redactor: Redactor(secrets: []))
        #expect(!message.contains("hunter2"))
        #expect(message.contains("sasl.password"))
    }

    @Test func consumerNeedsAGroup() {
        do {
            _ = try KafkaConsumer(config: KafkaConfig([("bootstrap.servers", "127.0.0.1:1")]), topics: ["t"])
            Issue.record("expected an error")
        } catch let error as KafkaError {
            #expect(error.message.contains("group.id"))
        } catch { Issue.record("unexpected \(error)") }
    }
}
