import Foundation
import PluginAPI
import Testing

@testable import LeaddCore

/// Loads the real plugin libraries built beside the tests. Serialized: the C test plugin picks its
/// fault from an environment variable.
@Suite(.serialized) struct PluginLoaderTests {
    let directory = buildProductsDirectory()
    let services = PluginHostServices(log: { _, _ in }, nowMilliseconds: { 42 })

    func message(_ to: String, id: String = "1") -> OutboundMessage {
        OutboundMessage(
            id: id, idempotencyKey: "key-\(id)", tenant: "acme", to: to, contentJSON: #"{"text":"hi"}"#,
            dueAtMilliseconds: 1, attempt: 1)
    }

    @Test func theSwiftTestPluginLoadsAndSends() async throws {
        let out = temporaryDirectory() + "/sent.jsonl"
        let table = try PluginLoader.load(file: PluginLoader.resolve("TestChannel", directory: directory))
        #expect(table.name == "test")
        #expect(table.abiMajor == 1)
        let instance = try PluginInstance(
            table: table, settingsJSON: #"{"file":"\#(out)","fail_matching":"bad","fail_every":3}"#, services: services)
        let results = await instance.send([message("+1", id: "1"), message("bad", id: "2"), message("+3", id: "3")])
        #expect(results.map(\.outcome) == [.delivered, .failed, .retry])
        #expect(results[0].providerID == "test-1")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines[0].contains(#""key":"key-1""#))
        #expect(instance.healthProblem() == nil)
        instance.shutdown()
    }

    @Test func manyConcurrentBatchesCompleteThroughTheBridge() async throws {
        let table = try PluginLoader.load(file: PluginLoader.resolve("TestChannel", directory: directory))
        let instance = try PluginInstance(table: table, settingsJSON: #"{"delay_ms":5}"#, services: services)
        let delivered = await withTaskGroup(of: Int.self) { group in
            for batch in 0..<50 {
                group.addTask {
                    let results = await instance.send((0..<100).map { self.message("+\($0)", id: "\(batch)-\($0)") })
                    return results.filter { $0.outcome == .delivered }.count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(delivered == 5_000)
        instance.shutdown()
    }

    @Test func badSettingsAreRefusedWithThePluginsReason() throws {
        let table = try PluginLoader.load(file: PluginLoader.resolve("TestChannel", directory: directory))
        #expect {
            _ = try PluginInstance(table: table, settingsJSON: #"{"colour":"red"}"#, services: services)
        } throws: { error in
            "\(error)" == "plugin test could not start: unknown setting 'colour'"
        }
    }

    @Test func abiMismatchesAreRefusedWithFileAndVersions() throws {
        let file = PluginLoader.resolve("BadABIPlugin", directory: directory)
        defer { unsetenv("LEADD_TEST_BAD_ABI") }

        setenv("LEADD_TEST_BAD_ABI", "major", 1)
        #expect {
            _ = try PluginLoader.load(file: file)
        } throws: { error in
            "\(error)" == "plugin \(file) has ABI 2.0, this leadd supports 1.x"
        }

        setenv("LEADD_TEST_BAD_ABI", "small", 1)
        #expect {
            _ = try PluginLoader.load(file: file)
        } throws: { error in
            "\(error)".hasPrefix("plugin \(file) has ABI 1.0 but its table is ")
        }

        setenv("LEADD_TEST_BAD_ABI", "null", 1)
        #expect {
            _ = try PluginLoader.load(file: file)
        } throws: { error in
            "\(error)".contains("refused this leadd")
        }

        // Without a fault the same library is a valid plugin written in C.
        unsetenv("LEADD_TEST_BAD_ABI")
        let table = try PluginLoader.load(file: file)
        #expect(table.name == "c-test")
    }

    @Test func aPluginWrittenInCWorks() async throws {
        unsetenv("LEADD_TEST_BAD_ABI")
        let table = try PluginLoader.load(file: PluginLoader.resolve("BadABIPlugin", directory: directory))
        let instance = try PluginInstance(table: table, settingsJSON: "{}", services: services)
        let results = await instance.send([message("+1")])
        #expect(results.map(\.outcome) == [.failed])
        #expect(results[0].detail == "the C test plugin fails every message")
    }

    @Test func missingFilesAndNonPluginsAreRefused() {
        #expect {
            _ = try PluginLoader.load(file: "/nonexistent/libX.so")
        } throws: { error in
            "\(error)" == "plugin /nonexistent/libX.so does not exist"
        }
        let notAPlugin = temporaryDirectory() + "/libNot.so"
        _ = FileManager.default.createFile(atPath: notAPlugin, contents: Data("not elf".utf8))
        #expect {
            _ = try PluginLoader.load(file: notAPlugin)
        } throws: { error in
            "\(error)".hasPrefix("plugin \(notAPlugin) cannot be loaded:")
        }
    }

    @Test func namesResolveToLibrariesInTheDirectory() {
        #expect(PluginLoader.resolve("TestChannel", directory: "/p") == "/p/libTestChannel.so")
        #expect(PluginLoader.resolve("libX.so", directory: "/p") == "/p/libX.so")
        #expect(PluginLoader.resolve("/opt/x/libY.so", directory: "/p") == "/opt/x/libY.so")
    }
}
