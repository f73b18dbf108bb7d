import Foundation
import Testing

/// Secrets given to `mulestream run` (with -X or --kafka-config) never reach its output: not
/// `--print-config`, not `--help`, not usage or runtime errors, not librdkafka's log lines even at
/// `debug=all` while it fails to authenticate. The CLI binary runs as a process; its stdout and
/// stderr are searched for every secret value.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SecretsTests {
    /// Secret properties (the ones librdkafka knows, and names that look like secrets), each with
    /// a distinct value that appears nowhere else.
    static let flagSecrets: [(String, String)] = [
        ("sasl.password", "flag-sasl-pw-7f3a"),
        ("ssl.key.password", "flag-key-pw-91c2"),
        ("ssl.keystore.password", "flag-keystore-pw-40d8"),
    ]
    /// Debian's librdkafka 2.0.2 is built without OIDC and refuses this property when a client is
    /// created, so it is only given where no client is (print-config, help) and as an error case.
    static let oidcSecret = ("sasl.oauthbearer.client.secret", "flag-oauth-secret-c55e")
    static let fileSecrets: [(String, String)] = [
        ("sasl.password", "file-sasl-pw-2b7e"),  // overridden by the flag: still never printed
        ("ssl.key.password", "file-key-pw-6a9d"),  // overridden too
        ("sasl.oauthbearer.config", "principal=file-oauth-config-e01f"),
    ]
    static var allSecretValues: [String] { (flagSecrets + fileSecrets + [oidcSecret]).map(\.1) }

    /// The args of a SASL_SSL + SCRAM setup as README documents it, with every secret above.
    static func secureArgs(brokers: String, dir: URL, protocolName: String = "SASL_SSL", oidc: Bool = false) throws -> [String] {
        let file = dir.appendingPathComponent("kafka.properties")
        let text = "# secrets live in a file readable only by the service\n"
            + fileSecrets.map { "\($0.0)=\($0.1)" }.joined(separator: "\n") + "\n"
        try text.write(to: file, atomically: true, encoding: .utf8)
        var args = ["run", "--brokers", brokers, "--input", "payments", "--output", "alerts", "--rules", "Rules",
                    "--kafka-config", file.path,
                    "-X", "security.protocol=\(protocolName)", "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=mulestream"]
        for (k, v) in flagSecrets + (oidc ? [oidcSecret] : []) { args += ["-X", "\(k)=\(v)"] }
        return args
    }

    static func expectNoSecret(_ text: String, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in allSecretValues {
            #expect(!text.contains(secret), "\(context) shows the secret \(secret):\n\(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func printConfigRedactsEverySecretFromFlagsAndFile() throws {
        let dir = Env.tempDir()
        let (status, out, err) = try runToEnd(Env.mulestream, try Self.secureArgs(brokers: "127.0.0.1:1", dir: dir, oidc: true) + ["--print-config"])
        #expect(status == 0, "\(err)")
        Self.expectNoSecret(out + err, "--print-config")
        for key in Set((Self.flagSecrets + Self.fileSecrets + [Self.oidcSecret]).map(\.0)) {
            // Once each: a flag replaces the file's entry for the same key.
            #expect(out.components(separatedBy: "\n    \(key): \"[redacted]\"").count == 2, "\(key) not shown once, redacted:\n\(out)")
        }
        // Non-secret settings are shown as given, so the printout is still useful.
        #expect(out.contains("sasl.username: \"mulestream\""))
        #expect(out.contains("security.protocol: \"SASL_SSL\""))
    }

    @Test func helpNeverEchoesSecretsGivenAlongsideIt() throws {
        let dir = Env.tempDir()
        let args = try Self.secureArgs(brokers: "127.0.0.1:1", dir: dir, oidc: true)
        for extra in [["--help"], ["-h"]] {
            let (status, out, err) = try runToEnd(Env.mulestream, args + extra)
            #expect(status == 0, "\(err)")
            #expect(out.contains("--kafka-config"))
            Self.expectNoSecret(out + err, "run \(extra)")
        }
    }

    @Test func usageAndStartupErrorsNeverEchoSecrets() throws {
        let dir = Env.tempDir()
        let secure = try Self.secureArgs(brokers: "127.0.0.1:1", dir: dir)
        // A secret assignment typed with ':' instead of '=' (the whole text may be the secret).
        let (s1, o1, e1) = try runToEnd(Env.mulestream, secure + ["-X", "sasl.password:\(Self.flagSecrets[0].1)"])
        #expect(s1 == 2)
        #expect(e1.contains("key=value"))
        Self.expectNoSecret(o1 + e1, "a malformed -X")
        // An unknown secret-looking property, and a secret one this librdkafka build refuses.
        let (s2, o2, e2) = try runToEnd(Env.mulestream, secure + ["-X", "sasl.oauthbearer.client.secrett=\(Self.oidcSecret.1)"])
        #expect(s2 == 1, "\(e2)")
        #expect(e2.contains("unknown librdkafka property \"sasl.oauthbearer.client.secrett\""), "\(e2)")
        Self.expectNoSecret(o2 + e2, "an unknown secret property")
        let (s5, o5, e5) = try runToEnd(Env.mulestream, try Self.secureArgs(brokers: "127.0.0.1:1", dir: dir, oidc: true), timeout: 15)
        if s5 == 1 { #expect(e5.contains("sasl.oauthbearer.client.secret"), "\(e5)") }  // refused: named, not shown
        Self.expectNoSecret(o5 + e5, "a refused secret property")
        // A usage error elsewhere (same output topic): the message is about the topic only.
        var sameTopic = secure
        sameTopic[sameTopic.firstIndex(of: "alerts")!] = "payments"
        let (s3, o3, e3) = try runToEnd(Env.mulestream, sameTopic)
        #expect(s3 == 2)
        Self.expectNoSecret(o3 + e3, "a usage error")
        // A key file that cannot be read, protected by ssl.key.password: librdkafka refuses to start.
        let (s4, o4, e4) = try runToEnd(Env.mulestream, secure + ["-X", "ssl.key.location=\(dir.path)/missing.key"])
        #expect(s4 == 1, "\(e4)")
        #expect(e4.contains("ssl.key.location") || e4.contains("missing.key"), "\(e4)")
        Self.expectNoSecret(o4 + e4, "an SSL start-up failure")
    }

    @Test func failingAuthenticationLogsNoSecretsEvenAtDebugLevel() throws {
        let dir = Env.tempDir()
        let (broker, address) = try EndToEndTests().startBroker(dir: dir)
        defer { broker.terminate(); broker.wait(seconds: 10) }
        // SASL over plaintext against a broker that does not speak SASL: librdkafka retries and
        // logs every step of the attempt (debug=all also dumps configuration-related lines).
        let args = try Self.secureArgs(brokers: address, dir: dir, protocolName: "SASL_PLAINTEXT")
            + ["-X", "debug=all", "--log-level", "trace"]
        let engine = try Child(Env.mulestream, args, dir: dir, name: "engine")
        // Let it try for a while: several connection attempts and their logs.
        _ = eventually(seconds: 8) { engine.stderr.utf8.count > 20_000 ? true : nil }
        usleep(1_000_000)
        engine.terminate()
        engine.wait(seconds: 30)
        let err = engine.stderr
        // The engine really tried: librdkafka's own debug lines about the SASL attempt are there.
        #expect(err.split(separator: "\n").contains { $0.hasPrefix("rdkafka DEBUG") && $0.contains("SASL") },
                "librdkafka logged nothing about SASL:\n\(err.suffix(3000))")
        Self.expectNoSecret(engine.stdout + err, "the engine's log")
    }
}
